"""Counts of what the graph holds, per node label and relationship type."""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from kg import queries as q

__all__ = ["GraphCounts", "graph_counts"]


@dataclass(frozen=True)
class GraphCounts:
    """Node counts per label, relationship counts per type, and society-level Culture nodes."""

    nodes: dict[str, int]
    relationships: dict[str, int]
    societies: int

    @property
    def total_nodes(self) -> int:
        return sum(self.nodes.values())

    @property
    def total_relationships(self) -> int:
        return sum(self.relationships.values())


def graph_counts(driver: neo4j.Driver, *, database: str | None = None) -> GraphCounts:
    """Count nodes per label and relationships per type (labels/types with zero are left out)."""
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        nodes = {r["label"]: r["n"] for r in session.run(q.COUNT_LABELS) if r["n"]}
        rels = {r["type"]: r["n"] for r in session.run(q.COUNT_REL_TYPES) if r["n"]}
        societies = session.run(q.COUNT_SOCIETIES).single(strict=True)["n"]
    return GraphCounts(
        nodes=dict(sorted(nodes.items())),
        relationships=dict(sorted(rels.items())),
        societies=societies,
    )
