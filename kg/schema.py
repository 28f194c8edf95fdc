"""The knowledge-graph schema: uniqueness constraints and indexes, created idempotently.

The labels, relationship types and properties are documented in docs/schema.md; analysts' Cypher
relies on those names, so they are part of the public contract.
"""

from __future__ import annotations

import neo4j

from kg import queries as q

__all__ = ["NODE_LABELS", "REL_TYPES", "KGCN_REL_PREFIX", "kgcn_rel_type", "ensure_schema"]

NODE_LABELS = q.LABELS
REL_TYPES = (
    "FROM_CULTURE",
    "SERVES_FUNCTION",
    "PART_OF",
    "LISTENED",
    "FRIEND",
    "CO_COLLECTED",
    "HAS_TAG",
    "STYLE_SIMILAR",
    "EXPERT_CONSTRAINT",
    "COLLECTED",
    "IN_PLAYLIST",
    "PERFORMED_BY",
)

#: The namespace of the relationship types made from KGCN's relation names. A source names its
#: relations freely, so without it a relation called ``listened`` would add edges to LISTENED,
#: which the recommenders read as plays; no core type starts with it.
KGCN_REL_PREFIX = "KG_"


def kgcn_rel_type(relation: str) -> str:
    """The relationship type of a KGCN relation: upper case, ASCII, in :data:`KGCN_REL_PREFIX`.

    Examples:
        >>> kgcn_rel_type("music.artist.origin")
        'KG_MUSIC_ARTIST_ORIGIN'
        >>> kgcn_rel_type("listened") in REL_TYPES
        False
    """
    body = "".join(c if c.isascii() and c.isalnum() else "_" for c in relation).upper()
    return KGCN_REL_PREFIX + body


def ensure_schema(driver: neo4j.Driver, *, database: str | None = None) -> None:
    """Create every constraint and index that is missing and wait until they are online.

    Safe to call any number of times (``IF NOT EXISTS``).
    """
    with driver.session(database=database) as session:
        for statement in (*q.CONSTRAINTS.values(), *q.INDEXES.values()):
            session.run(statement).consume()
        session.run(q.AWAIT_INDEXES).consume()
