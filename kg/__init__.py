"""Everything Neo4j: the local server, the driver, the schema, ingestion, Cypher and export.

The driver is built in one place, :func:`connect`, and passed to every function that needs the
database. The exports to networkx and PyG (:func:`to_networkx`, :func:`to_heterodata`) import
torch, so they load on first use rather than with the package.
"""

from typing import Any

from kg.cocollection import co_collection_weights
from kg.config import Neo4jSettings
from kg.connection import connect
from kg.culture import CultureTree, build_culture_tree
from kg.cypher import CypherError, QueryResult, ReadOnlyViolation, run_read
from kg.errors import (
    DatabaseAuthError,
    DatabaseError,
    DatabaseUnavailableError,
    database_error,
)
from kg.expert import ConstraintError, ExpertConstraint, add_expert_constraint
from kg.ingest import IngestSummary, ingest
from kg.schema import ensure_schema
from kg.server import Neo4jServer, ServerStatus
from kg.stats import GraphCounts, graph_counts

__all__ = [
    "ConstraintError",
    "CultureTree",
    "CypherError",
    "DatabaseAuthError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "ExpertConstraint",
    "GraphCounts",
    "IdMap",
    "IngestSummary",
    "Neo4jServer",
    "Neo4jSettings",
    "QueryResult",
    "ReadOnlyViolation",
    "ServerStatus",
    "add_expert_constraint",
    "build_culture_tree",
    "co_collection_weights",
    "connect",
    "database_error",
    "ensure_schema",
    "graph_counts",
    "ingest",
    "run_read",
    "to_heterodata",
    "to_networkx",
]

_LAZY = {"IdMap", "to_heterodata", "to_networkx"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from kg import export

        return getattr(export, name)
    raise AttributeError(f"module 'kg' has no attribute {name!r}")
