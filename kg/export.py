"""Export the graph (or a filtered subgraph) to networkx and to PyTorch Geometric.

Both exports share one stable id ↔ index mapping, :class:`IdMap`: within each node label, ids are
sorted (numbers before strings, then by value), so the same graph always gives the same indices
whatever order the database returns rows in. The GNN stores the map beside its checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import networkx as nx
import torch
from torch_geometric.data import HeteroData

from kg import queries as q

__all__ = ["IdMap", "to_heterodata", "to_networkx"]


def _sort_key(v: Any) -> tuple[int, Any]:
    return (1, v) if isinstance(v, str) else (0, v)


@dataclass(frozen=True)
class IdMap:
    """Per-label mapping between graph ids and contiguous indices ``0..n-1``.

    Examples:
        >>> m = IdMap.from_ids({"Track": ["b", "a"], "User": [3, 1]})
        >>> m.index("Track", "b"), m.ids["User"]
        (1, [1, 3])
    """

    ids: dict[str, list[Any]]

    @classmethod
    def from_ids(cls, ids: dict[str, Iterable[Any]]) -> IdMap:
        """Build the map, sorting each label's ids for stability."""
        return cls({label: sorted(set(v), key=_sort_key) for label, v in sorted(ids.items())})

    def index(self, label: str, node_id: Any) -> int:
        """Index of ``node_id`` among ``label`` nodes (raises KeyError when absent)."""
        return self._lookup(label)[node_id]

    def indices(self, label: str, node_ids: Sequence[Any]) -> list[int]:
        """Indices of many ids at once."""
        lookup = self._lookup(label)
        return [lookup[i] for i in node_ids]

    def _lookup(self, label: str) -> dict[Any, int]:
        cache = self.__dict__.setdefault("_cache", {})
        if label not in cache:
            cache[label] = {v: i for i, v in enumerate(self.ids[label])}
        return cache[label]

    def save(self, path: str | Path) -> None:
        """Write the map as JSON."""
        Path(path).write_text(json.dumps(self.ids, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> IdMap:
        """Read a map written by :meth:`save`."""
        return cls(json.loads(Path(path).read_text()))


def to_networkx(
    driver: neo4j.Driver,
    *,
    labels: Sequence[str] | None = None,
    rel_types: Sequence[str] | None = None,
    database: str | None = None,
) -> nx.MultiDiGraph:
    """The graph as a networkx ``MultiDiGraph``.

    Nodes are keyed ``(label, id)`` and carry their properties plus ``label``; edges carry their
    properties and ``key`` = the relationship type.

    Args:
        labels: keep only these node labels (and relationships between them); ``None`` keeps all.
        rel_types: keep only these relationship types; ``None`` keeps all.
    """
    g = nx.MultiDiGraph()
    params = {
        "labels": list(labels) if labels else None,
        "types": list(rel_types) if rel_types else None,
    }
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        for r in session.run(q.EXPORT_NODES, labels=params["labels"]):
            g.add_node((r["label"], r["id"]), label=r["label"], **r["props"])
        for r in session.run(q.EXPORT_RELATIONSHIPS, params):
            g.add_edge(
                (r["src_label"], r["src"]), (r["dst_label"], r["dst"]), key=r["type"], **r["props"]
            )
    return g


def to_heterodata(
    driver: neo4j.Driver,
    *,
    labels: Sequence[str] | None = None,
    rel_types: Sequence[str] | None = None,
    database: str | None = None,
) -> tuple[HeteroData, IdMap]:
    """The graph as a PyG ``HeteroData`` and its :class:`IdMap`.

    Node type = label; ``data[label].num_nodes``. Edge type = ``(src_label, REL_TYPE, dst_label)``
    with ``edge_index`` and ``edge_weight`` (the relationship's ``weight``, else ``score``, else
    ``count``, else 1.0).

    Shapes:
        ``edge_index``: ``(2, num_edges)`` int64; ``edge_weight``: ``(num_edges,)`` float32.

    Args:
        labels: keep only these node labels; ``None`` keeps all.
        rel_types: keep only these relationship types; ``None`` keeps all.
    """
    params = {
        "labels": list(labels) if labels else None,
        "types": list(rel_types) if rel_types else None,
    }
    with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session:
        ids = {
            r["label"]: r["ids"] for r in session.run(q.EXPORT_NODE_IDS, labels=params["labels"])
        }
        edges = [r.data() for r in session.run(q.EXPORT_EDGE_INDEX, params)]
    id_map = IdMap.from_ids(ids)
    data = HeteroData()
    for label, values in id_map.ids.items():
        data[label].num_nodes = len(values)
    for e in sorted(edges, key=lambda e: (e["src_label"], e["type"], e["dst_label"])):
        src = torch.tensor(id_map.indices(e["src_label"], e["src"]), dtype=torch.long)
        dst = torch.tensor(id_map.indices(e["dst_label"], e["dst"]), dtype=torch.long)
        order = torch.argsort(src * (dst.max() + 1 if len(dst) else 1) + dst)  # stable edge order
        key = (e["src_label"], e["type"], e["dst_label"])
        data[key].edge_index = torch.stack([src, dst])[:, order]
        data[key].edge_weight = torch.tensor(e["weight"], dtype=torch.float32)[order]
    return data, id_map
