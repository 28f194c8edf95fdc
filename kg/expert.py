"""Expert constraints between tracks: must-link / cannot-link with the expert's rationale.

``(:Track)-[:EXPERT_CONSTRAINT {kind, rationale, author, created_at}]->(:Track)``. The participatory
active-learning loop (a later issue) turns experts' answers into these edges through
:func:`add_expert_constraint`; the GNN treats must-links as positives and cannot-links as negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from kg import queries as q
from loaders.errors import SoundbridgeError

__all__ = ["KINDS", "ConstraintError", "ExpertConstraint", "add_expert_constraint"]

KINDS = ("must_link", "cannot_link")


class ConstraintError(SoundbridgeError):
    """An expert constraint was rejected (bad kind, unknown track, contradiction…)."""


@dataclass(frozen=True)
class ExpertConstraint:
    """A stored constraint, as returned by :func:`add_expert_constraint`."""

    source: str
    target: str
    kind: str
    rationale: str
    author: str
    created_at: str


def add_expert_constraint(
    driver: neo4j.Driver,
    source: str,
    target: str,
    *,
    kind: str,
    rationale: str,
    author: str,
    database: str | None = None,
) -> ExpertConstraint:
    """Record that an expert says two tracks must (or must not) be linked, and why.

    Adding the same constraint again updates its rationale and author and keeps ``created_at``.

    Args:
        driver: an open driver.
        source: id of the first track (e.g. ``"NHS2-TBMU"``).
        target: id of the second track; must differ from ``source``.
        kind: ``"must_link"`` or ``"cannot_link"``.
        rationale: the expert's reason, in words (required: constraints without a reason cannot be
            reviewed later).
        author: who says so (a name or an ORCID).
        database: the database; ``None`` is the server default.

    Raises:
        ConstraintError: bad kind, empty rationale/author, the same track twice, a track that does
            not exist, or a constraint of the opposite kind already between the two tracks.
    """
    if kind not in KINDS:
        raise ConstraintError(f"kind {kind!r} is not one of {KINDS}")
    if not isinstance(rationale, str) or not rationale.strip():
        raise ConstraintError(
            "rationale is empty: say why the expert links (or separates) the two "
            "tracks, e.g. 'both are Quechua harvest dances'"
        )
    if not isinstance(author, str) or not author.strip():
        raise ConstraintError("author is empty: give the expert's name or ORCID")
    if source == target:
        raise ConstraintError(f"a constraint needs two different tracks; got {source!r} twice")
    with driver.session(database=database) as session:
        found = {r["id"]: r["found"] for r in session.run(q.TRACKS_EXIST, ids=[source, target])}
        missing = [t for t in (source, target) if not found.get(t)]
        if missing:
            raise ConstraintError(
                f"unknown track id(s) {missing}; track ids are CCMC song ids such as 'NHS2-TBMU' "
                "(MATCH (t:Track) RETURN t.id lists them)"
            )
        for r in session.run(q.CONSTRAINT_BETWEEN, source=source, target=target):
            if r["kind"] != kind:
                raise ConstraintError(
                    f"{source} and {target} already have a {r['kind']} constraint by {r['author']} "
                    f"({r['rationale']!r}); remove it before adding a {kind}"
                )
        rec = session.execute_write(
            lambda tx: tx.run(
                q.MERGE_EXPERT_CONSTRAINT,
                source=source,
                target=target,
                kind=kind,
                rationale=rationale.strip(),
                author=author.strip(),
            ).single(strict=True)
        )
    return ExpertConstraint(
        source=source,
        target=target,
        kind=rec["kind"],
        rationale=rec["rationale"],
        author=rec["author"],
        created_at=rec["created_at"],
    )
