"""The heterogeneous knowledge-graph GNN through the recommender contract."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from gnn.coldstart import DEFAULT_OFFSET, choose_offset, cold_start
from gnn.graph import (
    KEPT_RELATIONS,
    KG_RELATED,
    LISTENED,
    TRACK_RELATIONS,
    KnowledgeGraph,
    training_graph,
)
from gnn.train import TrainConfig, TrainResult, train
from kg.cocollection import DEFAULT_TOP_K
from kg.export import IdMap
from recsys.embedding import EmbeddingRecommender
from recsys.split import inner_split

__all__ = ["DEFAULT_RELATIONS", "HeteroGNN"]

#: Relations used for message passing by default. CO_COLLECTED (~600k edges with its reverse) and
#: HAS_TAG (~217k) are left out: with them an epoch took ~4x longer on the 2-core CPU, which did
#: not fit the 10-minute budget; the tags still reach artists through their text features.
DEFAULT_RELATIONS = [
    "LISTENED",
    "FRIEND",
    "FROM_CULTURE",
    "PART_OF",
    "STYLE_SIMILAR",
    "KG_RELATED",
    "SERVES_FUNCTION",
]


#: Track relations that are link-prediction targets and therefore pass no messages (a track
#: would be handed the answer it is asked for). FROM_CULTURE stays a message too: every track's
#: culture is public, it also links artists to cultures, and it is what places a track in its
#: culture's part of the graph.
_TARGETS_ONLY = frozenset(TRACK_RELATIONS) - {"FROM_CULTURE"}


def _bare_graph(n_users: int, n_items: int) -> KnowledgeGraph:
    """A graph of users and artists only (no side information), for fits without Neo4j."""
    data = HeteroData()
    data["User"].num_nodes = n_users
    data["Artist"].num_nodes = n_items
    ids = IdMap({"Artist": list(range(n_items)), "User": list(range(n_users))})
    return KnowledgeGraph(data, ids, {}, pd.DataFrame(columns=["src", "dst", "kind"]))


class HeteroGNN(EmbeddingRecommender):
    """Relation-aware GNN over the knowledge graph (:mod:`gnn.model`, :func:`gnn.train.train`).

    ``fit(x, graph=kg, user_ids=..., item_ids=..., friends=...)``: ``graph`` from
    :func:`gnn.graph.read_knowledge_graph` (omit it to train on the interactions alone),
    ``user_ids``/``item_ids`` the Last.fm ids of the matrix's rows/columns, ``friends`` the
    training friendships ``(num_users, num_users)``.
    After fitting, ``result_`` (not saved) holds every label's embeddings and the curves.

    Every choice is made on an **inner validation split** carved from ``x``
    (:func:`recsys.split.inner_split`, ``inner_fraction`` of each user's rows, seed ``seed``):
    the model trains on the rest, early-stops on it (``epochs`` at most, ``patience``) and
    chooses the cold-start offset on it. Then (``refit``, the default) it trains again from the
    start on every row of ``x`` for the number of epochs chosen — as :class:`recsys.tuning.Tuned`
    refits the peers with the values it chose — so no row of ``x`` is wasted and no row outside
    it is looked at. With ``refit=False`` the kept parameters are only propagated over the graph
    of all of ``x``. :meth:`inner_scores` gives the scores of the model as it was validated
    (what :class:`recsys.blend.Blend` weighs members with). ``fit(x, valid=pairs)`` instead
    early-stops on the given pairs and trains on all of ``x`` (no inner split).

    Args:
        conv: ``"light"`` (relation-gated LightGCN) or ``"sage"`` (to_hetero GraphSAGE).
        relations: relation types used for message passing (default :data:`DEFAULT_RELATIONS`;
            ``None``: all).
        co_top_k: with ``CO_COLLECTED`` among the relations, the strongest co-collected artists
            kept per artist (recomputed from the training plays).
        cold_start: give artists without training listeners an embedding predicted from their
            tag features and a score offset (:mod:`gnn.coldstart`); without it they are never
            recommended.
        cold_ridge, cold_min_listeners: the regression's penalty and the fewest training
            listeners of the artists it learns from.
        cold_offset: the score offset of those artists; ``None`` chooses it on the validation
            pairs (or uses :data:`gnn.coldstart.DEFAULT_OFFSET` without them).
        without_features: labels whose features are left out (ablations: ``("Artist",)``
            drops the artists' tag text, ``("Track",)`` the tracks' audio factors; they then
            start from learned id embeddings).
        refit: once the inner split has chosen the number of epochs, train again from the
            start on every row of ``x`` for that many epochs (``False``: only propagate the
            kept parameters over them). It costs the chosen epochs once more (about 1.7 times
            the training) and gained 0.006–0.009 Recall@20 on the project's held-out rows
            (docs/recommenders.md).
        inner_fraction: share of each user's rows (users with ≥ 10) carved out of ``x`` for
            validation; ``0``: no inner split (trains ``epochs`` on all of ``x`` unless
            ``valid`` is given).
        track_relations: the Track edges that are link-prediction targets (weight
            ``track_weight``; :data:`gnn.graph.TRACK_RELATIONS`). While the term runs, the
            ones other than ``FROM_CULTURE`` pass no messages. The function edges of the
            graph's ``held_out_societies`` are never used (:meth:`KnowledgeGraph.track_targets`).
        dim, layers, loss, tau, negatives, lr, weight_decay, batch_size, epochs,
        patience, friend_weight, expert_weight, track_weight, feature_only, max_seconds, seed,
        threads, sampler, num_neighbors: see :class:`gnn.train.TrainConfig`.
    """

    history_: np.ndarray
    validates_inner = True
    result_: TrainResult
    item_offset_: np.ndarray
    cold_offset_: float
    cold_artists_: int
    cold_recall_: dict[float, float]

    def __init__(
        self,
        conv: str = TrainConfig.conv,
        dim: int = TrainConfig.dim,
        layers: int = TrainConfig.layers,
        loss: str = TrainConfig.loss,
        tau: float = TrainConfig.tau,
        negatives: int = TrainConfig.negatives,
        lr: float = TrainConfig.lr,
        weight_decay: float = TrainConfig.weight_decay,
        batch_size: int = TrainConfig.batch_size,
        epochs: int = TrainConfig.epochs,
        patience: int = TrainConfig.patience,
        friend_weight: float = TrainConfig.friend_weight,
        expert_weight: float = TrainConfig.expert_weight,
        track_weight: float = TrainConfig.track_weight,
        feature_only: tuple[str, ...] = TrainConfig.feature_only,
        track_relations: tuple[str, ...] = TRACK_RELATIONS,
        max_seconds: float = TrainConfig.max_seconds,
        seed: int = TrainConfig.seed,
        threads: int = TrainConfig.threads,
        sampler: str = TrainConfig.sampler,
        num_neighbors: tuple[int, ...] = TrainConfig.num_neighbors,
        relations: list[str] | None = DEFAULT_RELATIONS,
        co_top_k: int = DEFAULT_TOP_K,
        cold_start: bool = True,
        cold_ridge: float = 1.0,
        cold_min_listeners: int = 2,
        cold_offset: float | None = None,
        inner_fraction: float = 0.1,
        without_features: tuple[str, ...] = (),
        refit: bool = True,
    ) -> None:
        self.conv = conv
        self.dim = dim
        self.layers = layers
        self.loss = loss
        self.tau = tau
        self.negatives = negatives
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.friend_weight = friend_weight
        self.expert_weight = expert_weight
        self.track_weight = track_weight
        self.feature_only = tuple(feature_only)
        self.track_relations = tuple(track_relations)
        self.max_seconds = max_seconds
        self.seed = seed
        self.threads = threads
        self.sampler = sampler
        self.num_neighbors = tuple(num_neighbors)
        self.relations = list(relations) if relations is not None else None
        self.co_top_k = co_top_k
        self.cold_start = cold_start
        self.cold_ridge = cold_ridge
        self.cold_min_listeners = cold_min_listeners
        self.cold_offset = cold_offset
        self.inner_fraction = inner_fraction
        self.without_features = tuple(without_features)
        self.refit = refit

    def config(self) -> TrainConfig:
        """The training configuration these hyper-parameters give."""
        fields = set(asdict(TrainConfig()))
        return TrainConfig(**{k: v for k, v in self.get_params().items() if k in fields})

    def _fit(
        self,
        interactions: sp.csr_matrix,
        *,
        graph: KnowledgeGraph | None = None,
        user_ids: np.ndarray | None = None,
        item_ids: np.ndarray | None = None,
        friends: sp.spmatrix | None = None,
        valid: sp.spmatrix | None = None,
        checkpoint_dir: str | Path | None = None,
        progress: bool = False,
        **side: Any,
    ) -> None:
        n_users, n_items = interactions.shape
        kg = graph or _bare_graph(n_users, n_items)
        uids = np.arange(n_users) if user_ids is None else np.asarray(user_ids)
        iids = np.arange(n_items) if item_ids is None else np.asarray(item_ids)

        def friends_of(f: sp.spmatrix | None) -> pd.DataFrame | None:
            if f is None:
                return None
            fr = sp.coo_matrix(f)
            return pd.DataFrame({"user_id": uids[fr.row], "friend_id": uids[fr.col]})

        def graph_of(x: sp.spmatrix, f: sp.spmatrix | None = friends) -> HeteroData:
            tr = sp.coo_matrix(x)
            listened = pd.DataFrame({"user_id": uids[tr.row], "artist_id": iids[tr.col]})
            return training_graph(
                kg.data,
                kg.id_map,
                listened=listened,
                friends=friends_of(f),
                relations=self._message_relations(kg),
                features={
                    k: v for k, v in kg.aligned_features().items() if k not in self.without_features
                },
                co_top_k=self.co_top_k,
                hidden_tracks=kg.hidden_tracks(),
            )

        user_pos = np.asarray(kg.id_map.indices("User", uids.tolist()))
        item_pos = np.asarray(kg.id_map.indices("Artist", iids.tolist()))
        # what propagate() needs to rebuild the graph over other rows (a tuple: not saved)
        self.graph_of_ = (graph_of, user_pos, item_pos)

        def pairs_of(x: sp.spmatrix) -> torch.Tensor:
            v = sp.coo_matrix(x)
            return torch.from_numpy(np.stack([user_pos[v.row], item_pos[v.col]]))

        full = graph_of(interactions)
        fit_x: sp.spmatrix = interactions
        check_x: sp.spmatrix | None = None
        vpairs: torch.Tensor | None = None
        if valid is None and self.inner_fraction > 0:
            fit_x, check_x = inner_split(interactions, fraction=self.inner_fraction, seed=self.seed)
        if check_x is not None and check_x.nnz:
            g, vpairs, infer = graph_of(fit_x), pairs_of(check_x), full
            inner_rows = fit_x
        else:  # given pairs, or no user with enough rows: every epoch on all of x
            g, infer = full, None
            vpairs = pairs_of(valid) if valid is not None else None
            inner_rows = interactions
        targets = None
        if self.track_weight > 0 and "Track" in g.node_types:
            targets = kg.track_targets(self.track_relations) or None
        self.result_ = train(
            g,
            valid=vpairs,
            config=self.config(),
            expert=kg.expert_tensors(),
            track_targets=targets,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
            infer=infer,
        )
        self.stopped_by_ = self.result_.stopped_by
        self.best_epoch_ = self.result_.best_epoch
        inner_offsets = self._cold_start(g, vpairs, self.result_.train_embeddings)
        inner = self.result_.train_embeddings
        history = self.result_.history
        self.refit_epochs_ = 0
        if self.refit and infer is not None:
            # the number of epochs chosen on the inner split, trained again on every row
            self.refit_epochs_ = self.result_.best_epoch + 1
            self.result_ = train(
                full,
                valid=None,
                config=replace(self.config(), epochs=self.refit_epochs_),
                expert=kg.expert_tensors(),
                track_targets=targets,
                progress=progress,
            )
        offsets = inner_offsets
        if infer is not None:  # the offset chosen, the artists cold in all of x get it
            offsets = self._apply_offset(full, self.result_.embeddings)
        # the model as validated (a tuple: not part of the saved state)
        self.inner_ = (
            inner["User"][user_pos],
            inner["Artist"][item_pos],
            inner_offsets[item_pos],
            inner_rows,
        )
        self._serve(self.result_.embeddings, offsets, user_pos, item_pos)
        # the inner split's curve (what chose the epochs)
        self.history_ = np.array(
            [[h["epoch"], h["loss"], h["recall"], h["seconds"]] for h in history]
        )

    def propagate(self, interactions: sp.spmatrix, friends: sp.spmatrix | None = None) -> None:
        """Serve the learned parameters propagated over other rows, without training again.

        E.g. every public play once the held-out rows have been scored: users' embeddings then
        gather their newest artists. Artists without listeners in ``interactions`` get the
        cold-start embedding and offset already chosen. ``result_.embeddings`` and the
        served factors are replaced; the history used to exclude seen items becomes
        ``interactions``.

        Shapes:
            interactions: ``(num_users, num_items)``, the same users and items as ``fit``;
            friends: ``(num_users, num_users)`` (``None``: the friendships fitted with).
        """
        self._check_fitted()
        encode = getattr(getattr(self, "result_", None), "encode", None)
        if not hasattr(self, "graph_of_") or encode is None:
            raise ValueError("propagate needs the model as fitted in this process (not loaded)")
        graph_of, user_pos, item_pos = self.graph_of_
        x = sp.csr_matrix(interactions, dtype=np.float32)
        g = graph_of(x) if friends is None else graph_of(x, friends)
        emb = encode(g)
        offsets = self._apply_offset(g, emb)
        self.result_.embeddings = emb
        self._serve(emb, offsets, user_pos, item_pos)
        self.use_history(x)

    def _serve(
        self,
        emb: dict[str, np.ndarray],
        offsets: np.ndarray,
        user_pos: np.ndarray,
        item_pos: np.ndarray,
    ) -> None:
        """Answer from ``emb``: the matrix's users and artists, in its row and column order."""
        self.user_factors_ = emb["User"][user_pos]
        self.item_factors_ = emb["Artist"][item_pos]
        self.item_offset_ = offsets[item_pos]

    def _message_relations(self, kg: KnowledgeGraph) -> frozenset[str] | None:
        """The relation types that pass messages: ``relations`` less the Track targets."""
        if self.track_weight <= 0:
            return frozenset(self.relations) if self.relations is not None else None
        if self.relations is not None:
            names = set(self.relations)
        else:
            names = {r if r in KEPT_RELATIONS else KG_RELATED for _, r, _ in kg.data.edge_types}
            names |= {"LISTENED", "FRIEND", "CO_COLLECTED"}
        return frozenset(names - (_TARGETS_ONLY & set(self.track_relations)))

    def _cold_start(
        self, g: HeteroData, vpairs: torch.Tensor | None, trained: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Predict the cold artists' embeddings (in ``trained``); returns the score offsets.

        Sets ``cold_offset_`` (the offset used, NaN when none), ``cold_artists_`` (how many were
        predicted) and ``cold_recall_`` (validation Recall@20 per offset tried, key ``-inf``:
        cold artists unreachable; empty without validation pairs).
        """
        n = g["Artist"].num_nodes
        self.cold_offset_, self.cold_artists_ = float("nan"), 0
        self.cold_recall_ = {}
        x = g["Artist"].get("x")
        if not self.cold_start or x is None or self.loss != "softmax":
            return np.zeros(n, dtype=np.float32)
        pairs = g[LISTENED].edge_index
        emb, cold = self._predict_cold(g, trained)
        offset: float | None = self.cold_offset
        if offset is None and vpairs is not None and cold.any():
            offset, self.cold_recall_ = choose_offset(
                trained["User"], emb, cold, pairs.numpy(), vpairs.numpy()
            )
        elif offset is None:
            offset = DEFAULT_OFFSET
        if offset is None or not cold.any():
            return np.zeros(n, dtype=np.float32)
        trained["Artist"] = emb
        self.cold_offset_, self.cold_artists_ = offset, int(cold.sum())
        return np.where(cold, offset, 0.0).astype(np.float32)

    def _predict_cold(
        self, g: HeteroData, trained: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The artist embeddings with those of no listener in ``g`` predicted from their tags.

        Shapes:
            returns ``(num_artists, dim)`` and the ``(num_artists,)`` mask of predicted rows.
        """
        listeners = np.bincount(g[LISTENED].edge_index[1].numpy(), minlength=g["Artist"].num_nodes)
        return cold_start(
            trained["Artist"],
            g["Artist"].x.numpy(),
            listeners,
            ridge=self.cold_ridge,
            min_listeners=self.cold_min_listeners,
        )

    def _apply_offset(self, g: HeteroData, trained: dict[str, np.ndarray]) -> np.ndarray:
        """Cold-start the artists without listeners in ``g`` with the offset already chosen."""
        n = g["Artist"].num_nodes
        x = g["Artist"].get("x")
        if np.isnan(self.cold_offset_) or x is None:
            return np.zeros(n, dtype=np.float32)
        emb, cold = self._predict_cold(g, trained)
        trained["Artist"] = emb
        self.cold_artists_ = int(cold.sum())
        return np.where(cold, self.cold_offset_, 0.0).astype(np.float32)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        scores = super()._scores(users)
        offset = getattr(self, "item_offset_", None)  # models saved before it have none
        return scores if offset is None else scores + offset
