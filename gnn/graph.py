"""The training graph: the exported knowledge graph with its leaky relations rebuilt from training.

:func:`kg.export.to_heterodata` gives the whole public graph. Three relations there would leak the
validation split into message passing and are rebuilt from the training rows only:
``LISTENED`` (the held-out plays are removed), ``FRIEND`` (held-out friendships removed) and
Artist ``CO_COLLECTED`` (recomputed by :func:`kg.cocollection.co_collection_weights` on the
training plays, since the stored weights count every public play). ``EXPERT_CONSTRAINT`` edges are
taken out of message passing: the loss uses them (must-link / cannot-link). KGCN's 60 Freebase
relation types are merged into one ``KG_RELATED`` per (source, target) label pair — most have a
handful of edges, too few to learn a relation of their own. Every relation gets a reverse
(``rev_<TYPE>``) so that messages flow both ways; relations within one label are symmetrised,
except the directed co-collection, whose reverse stays a relation of its own.

Tracks get a training signal of their own (:meth:`KnowledgeGraph.track_targets`): their
``SERVES_FUNCTION``, ``FROM_CULTURE`` and Track–Track ``SIMILAR_*`` edges are link-prediction
targets of the training loss. The function edges of the tracks of ``held_out_societies`` (the
audio run's held-out societies, which its probes and the cross-cultural evaluation score on) are
neither targets nor messages: :func:`training_graph` drops them (``hidden_tracks``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from gnn import queries as q
from gnn.features import NodeFeatures, read_features
from kg.cocollection import DEFAULT_TOP_K, co_collection_weights
from kg.export import IdMap, to_heterodata
from kg.schema import NODE_LABELS

__all__ = [
    "KEPT_RELATIONS",
    "KG_RELATED",
    "LISTENED",
    "SERVES_FUNCTION",
    "SIMILAR_RELATIONS",
    "TRACK_CULTURE",
    "TRACK_RELATIONS",
    "KnowledgeGraph",
    "read_knowledge_graph",
    "training_graph",
    "write_label_used",
]

LISTENED = ("User", "LISTENED", "Artist")
FRIEND = ("User", "FRIEND", "User")
CO_COLLECTED = ("Artist", "CO_COLLECTED", "Artist")
SERVES_FUNCTION = ("Track", "SERVES_FUNCTION", "Function")
TRACK_CULTURE = ("Track", "FROM_CULTURE", "Culture")
#: Track–Track similarity edges (content, style, affect), when the graph has them.
SIMILAR_RELATIONS = ("SIMILAR_CONTENT", "SIMILAR_STYLE", "SIMILAR_AFFECT")
#: The Track relations whose edges can be the Track link-prediction targets.
TRACK_RELATIONS = ("SERVES_FUNCTION", "FROM_CULTURE", *SIMILAR_RELATIONS)
#: The merged KGCN relation type.
KG_RELATED = "KG_RELATED"
#: Relation types kept as they are (everything else from Artist is a KGCN relation).
KEPT_RELATIONS = frozenset(
    {
        "LISTENED",
        "FRIEND",
        "CO_COLLECTED",
        "HAS_TAG",
        "FROM_CULTURE",
        "PART_OF",
        "STYLE_SIMILAR",
        "SERVES_FUNCTION",
        "PERFORMED_BY",
        "IN_PLAYLIST",
        "COLLECTED",
        *SIMILAR_RELATIONS,
    }
)


def _edges(ids_src: np.ndarray, ids_dst: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([ids_src, ids_dst]).astype(np.int64))


def training_graph(
    data: HeteroData,
    id_map: IdMap,
    *,
    listened: pd.DataFrame,
    friends: pd.DataFrame | None,
    relations: frozenset[str] | None = None,
    features: dict[str, np.ndarray] | None = None,
    co_top_k: int = DEFAULT_TOP_K,
    hidden_tracks: np.ndarray | None = None,
) -> HeteroData:
    """Rebuild the leaky relations from training rows and add reverse edges.

    Args:
        data: the export of :func:`kg.export.to_heterodata`.
        id_map: its id map.
        listened: training plays, columns ``user_id``, ``artist_id`` (Last.fm ids).
        friends: training friendships, columns ``user_id``, ``friend_id`` (both directions);
            ``None`` drops FRIEND.
        relations: relation types to keep for message passing (``KG_RELATED`` for the KGCN ones;
            ``None``: all); LISTENED is always kept.
        features: label → feature rows aligned with ``id_map`` (stored as ``x``).
        co_top_k: co-collection targets kept per artist (the strongest by weight).
        hidden_tracks: Track indices whose ``SERVES_FUNCTION`` edges are dropped (their labels
            are held out: :meth:`KnowledgeGraph.hidden_tracks`). Shapes: ``(h,)``.

    Shapes:
        every ``edge_index`` is ``(2, E)``; ``x`` of a label is ``(num_nodes, d)``.
    """
    out = HeteroData()
    for label in data.node_types:
        out[label].num_nodes = data[label].num_nodes
        if features and label in features:
            out[label].x = torch.from_numpy(features[label])

    merged: dict[tuple[str, str, str], list[torch.Tensor]] = {}
    for src, rel, dst in data.edge_types:
        if rel in ("LISTENED", "FRIEND", "EXPERT_CONSTRAINT") or (src, rel, dst) == CO_COLLECTED:
            continue
        name = rel if rel in KEPT_RELATIONS else KG_RELATED
        ei = data[src, rel, dst].edge_index
        if (src, rel, dst) == SERVES_FUNCTION and hidden_tracks is not None:
            ei = ei[:, torch.from_numpy(~np.isin(ei[0].numpy(), hidden_tracks))]
        merged.setdefault((src, name, dst), []).append(ei)

    u = np.asarray(id_map.indices("User", listened["user_id"].tolist()))
    a = np.asarray(id_map.indices("Artist", listened["artist_id"].tolist()))
    merged[LISTENED] = [_edges(u, a)]
    co = co_collection_weights(listened, user="user_id", item="artist_id", top_k=co_top_k)
    merged[CO_COLLECTED] = [
        _edges(
            np.asarray(id_map.indices("Artist", co["src"].tolist())),
            np.asarray(id_map.indices("Artist", co["dst"].tolist())),
        )
    ]
    if friends is not None and len(friends):
        merged[FRIEND] = [
            _edges(
                np.asarray(id_map.indices("User", friends["user_id"].tolist())),
                np.asarray(id_map.indices("User", friends["friend_id"].tolist())),
            )
        ]

    for (src, rel, dst), parts in sorted(merged.items()):
        if relations is not None and rel not in relations and (src, rel, dst) != LISTENED:
            continue
        ei = torch.unique(torch.cat(parts, dim=1), dim=1)
        if ei.shape[1] == 0:
            continue
        if src == dst and rel != "CO_COLLECTED":
            ei = torch.unique(torch.cat([ei, ei.flip(0)], dim=1), dim=1)
            ei = ei[:, ei[0] != ei[1]]
            out[src, rel, dst].edge_index = ei
        elif src == dst:
            # co-collection is directed on purpose (top 20 targets per source): its reverse is a
            # relation of its own, as for the other types
            out[src, rel, dst].edge_index = ei
            out[dst, f"rev_{rel}", src].edge_index = ei.flip(0)
        else:
            out[src, rel, dst].edge_index = ei
            out[dst, f"rev_{rel}", src].edge_index = ei.flip(0)
    return out


def label_ids(id_map: IdMap, label: str) -> list[Any]:
    """The ids of ``label`` in index order."""
    return id_map.ids.get(label, [])


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """Everything the GNN reads from Neo4j, read once and passed around without the driver.

    Attributes:
        data: the export of :func:`kg.export.to_heterodata`.
        id_map: its id map.
        features: label → initial features (:func:`gnn.features.read_features`).
        expert: expert constraints, columns ``src``, ``dst`` (Track ids), ``kind``.
        held_out_societies: Culture ids of the societies whose tracks' function labels are held
            out (the audio run's ``split.json``): never a target nor a message.
    """

    data: HeteroData
    id_map: IdMap
    features: dict[str, NodeFeatures]
    expert: pd.DataFrame
    held_out_societies: frozenset[str] = frozenset()

    def hidden_tracks(self) -> np.ndarray:
        """Indices of the tracks of the held-out societies. Shapes: ``(h,)`` int64, ascending."""
        if not self.held_out_societies or TRACK_CULTURE not in self.data.edge_types:
            return np.zeros(0, dtype=np.int64)
        ei = self.data[TRACK_CULTURE].edge_index.numpy()
        cultures = np.asarray(self.id_map.ids["Culture"], dtype=object)[ei[1]]
        held = np.isin(cultures.astype(str), sorted(self.held_out_societies))
        return np.unique(ei[0, held]).astype(np.int64)

    def track_targets(
        self, relations: Sequence[str] = TRACK_RELATIONS
    ) -> dict[tuple[str, str, str], torch.Tensor]:
        """The Track edges the training loss predicts, held-out tracks' functions left out.

        Args:
            relations: relation types among :data:`TRACK_RELATIONS`.

        Returns:
            edge type → ``(2, E)`` (track index, target index); only types with edges.
        """
        hidden = self.hidden_tracks()
        out: dict[tuple[str, str, str], torch.Tensor] = {}
        for src, rel, dst in self.data.edge_types:
            if src != "Track" or rel not in relations:
                continue
            if rel in SIMILAR_RELATIONS and dst != "Track":
                continue
            ei = self.data[src, rel, dst].edge_index
            if rel == "SERVES_FUNCTION":
                ei = ei[:, torch.from_numpy(~np.isin(ei[0].numpy(), hidden))]
            if rel in SIMILAR_RELATIONS:  # undirected similarity: either end predicts the other
                ei = torch.unique(torch.cat([ei, ei.flip(0)], dim=1), dim=1)
                ei = ei[:, ei[0] != ei[1]]
            if ei.shape[1]:
                out[src, rel, dst] = ei
        return out

    def held_out_labels(self) -> int:
        """How many tracks of the held-out societies have a function label (kept out)."""
        if SERVES_FUNCTION not in self.data.edge_types:
            return 0
        labelled = np.unique(self.data[SERVES_FUNCTION].edge_index[0].numpy())
        return int(np.isin(labelled, self.hidden_tracks()).sum())

    def label_used(self) -> dict[Any, bool]:
        """Track id → whether its function label can reach the GNN (a target or a message):
        labelled and outside the held-out societies."""
        ids = label_ids(self.id_map, "Track")
        used = np.zeros(len(ids), dtype=bool)
        if SERVES_FUNCTION in self.data.edge_types:
            used[self.data[SERVES_FUNCTION].edge_index[0].numpy()] = True
        used[self.hidden_tracks()] = False
        return {t: bool(u) for t, u in zip(ids, used, strict=True)}

    def aligned_features(self) -> dict[str, np.ndarray]:
        """Each label's features in id-map order. Shapes: ``{label: (num_nodes, d)}``."""
        return {
            k: v.aligned(self.id_map.ids[k])
            for k, v in self.features.items()
            if k in self.id_map.ids
        }

    def expert_tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(src, dst, is_must_link)`` track indices of the expert constraints, or ``None``."""
        if self.expert.empty or "Track" not in self.id_map.ids:
            return None
        return (
            torch.tensor(self.id_map.indices("Track", self.expert["src"].tolist())),
            torch.tensor(self.id_map.indices("Track", self.expert["dst"].tolist())),
            torch.tensor((self.expert["kind"] == "must_link").to_numpy()),
        )


def read_knowledge_graph(
    driver: neo4j.Driver,
    *,
    cache: Path | None = None,
    track_factors: str | os.PathLike[str] | None = None,
    track_input: str = "factors",
    held_out_societies: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
) -> KnowledgeGraph:
    """Export the graph, read the initial features and the expert constraints.

    Args:
        driver: an open driver (built by :func:`kg.connection.connect`).
        cache: folder for the tag-text embeddings (reused while the tags are unchanged).
        track_factors: the audio factors' per-track parquet (instead of the graph's).
        track_input: ``"factors"`` (the audio factors on the Track nodes; MIRtoolbox, with a
            message to ``log``, while there are none) or ``"mir"``
            (:func:`gnn.features.track_features`).
        held_out_societies: societies whose tracks' function labels the GNN must not see.
        log: where the message about missing factors goes.
    """
    # The knowledge graph's own labels only: experts' answers, concepts and accounts would leak
    # the labels being predicted into message passing (constraints come in below, on purpose).
    data, id_map = to_heterodata(driver, labels=NODE_LABELS)
    features = read_features(
        driver, cache=cache, track_factors=track_factors, track_input=track_input, log=log
    )
    records, _, _ = driver.execute_query(q.EXPERT_CONSTRAINTS, routing_=neo4j.RoutingControl.READ)
    expert = pd.DataFrame([r.data() for r in records], columns=["src", "dst", "kind"])
    return KnowledgeGraph(data, id_map, features, expert, frozenset(map(str, held_out_societies)))


def write_label_used(driver: neo4j.Driver, kg: KnowledgeGraph, *, batch_size: int = 2000) -> int:
    """Set ``embedding_label_used`` on every Track of ``kg`` (:meth:`KnowledgeGraph.label_used`).

    Written beside the embeddings, so that an evaluation reading them from the graph can check
    that none of its queries' labels trained them.

    Returns:
        Tracks written.
    """
    rows = [{"id": t, "used": u} for t, u in kg.label_used().items()]
    for s in range(0, len(rows), batch_size):
        driver.execute_query(q.SET_TRACK_LABEL_USED, rows=rows[s : s + batch_size])
    return len(rows)
