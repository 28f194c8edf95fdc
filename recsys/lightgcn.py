"""LightGCN (PyG's model) through the recommender contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from gnn.lightgcn import train_lightgcn
from recsys.embedding import EmbeddingRecommender
from recsys.split import inner_split

__all__ = ["LightGCN"]


class LightGCN(EmbeddingRecommender):
    """PyG's LightGCN trained with BPR (:func:`gnn.lightgcn.train_lightgcn`).

    Every choice is made on an **inner validation split** carved from ``x``
    (:func:`recsys.split.inner_split`, ``inner_fraction`` of each user's rows, seed ``seed``):
    the model trains on the rest and early-stops on it (``epochs`` at most, ``patience``); the
    kept parameters are then propagated over the graph of all of ``x`` for the final
    embeddings, so no row of ``x`` is wasted and no row outside it is looked at.
    :meth:`inner_scores` gives the scores of the model as it was validated. When no user has
    enough rows for an inner split, it trains every epoch on all of ``x``. ``fit(x, valid=pairs)``
    instead early-stops on the given pairs and trains on all of ``x`` (no inner split).

    Defaults ``lr=1e-2, epochs=30``: the best inner Recall@20 within ~4 min on the 2-core CPU.
    2026-12-06, ``nice -n 10``: ``LightGCN(lr, epochs=30, patience=3).fit(split_lastfm(…).train)``
    best inner Recall@20 (epoch, s) 5e-3 .2264 (29, 219), 1e-2 .2413 (29, 209), 2e-2 .2356 (20, 142)

    Args:
        inner_fraction: share of each user's rows (users with ≥ 10) carved out of ``x`` for
            validation; ``0``: no inner split (trains ``epochs`` on all of ``x`` unless
            ``valid`` is given).
        dim, layers, lr, l2, batch_size, epochs, patience, max_seconds, seed: see
            :func:`gnn.lightgcn.train_lightgcn` (``max_seconds`` is a safety only).

    Attributes:
        best_epoch_: the epoch whose parameters were kept.
        stopped_by_: ``"epochs"``, ``"patience"`` or ``"time"`` (see
            :class:`gnn.lightgcn.LightGCNResult`).
        history_: ``(epochs, 4)`` rows of (epoch, loss, validation Recall@20 — NaN without
            validation pairs —, seconds).
    """

    history_: np.ndarray
    validates_inner = True
    best_epoch_: int
    stopped_by_: str

    def __init__(
        self,
        dim: int = 64,
        layers: int = 3,
        lr: float = 1e-2,
        l2: float = 1e-4,
        batch_size: int = 2048,
        epochs: int = 30,
        patience: int = 5,
        max_seconds: float = 3600.0,
        seed: int = 0,
        inner_fraction: float = 0.1,
    ) -> None:
        self.dim = dim
        self.layers = layers
        self.lr = lr
        self.l2 = l2
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.max_seconds = max_seconds
        self.seed = seed
        self.inner_fraction = inner_fraction

    def _fit(
        self,
        interactions: sp.csr_matrix,
        *,
        valid: sp.spmatrix | None = None,
        progress: bool = False,
        **side: Any,
    ) -> None:
        fit_x, check_x = interactions, None
        if valid is None and self.inner_fraction > 0:
            fit_x, check_x = inner_split(interactions, fraction=self.inner_fraction, seed=self.seed)
        if check_x is not None and check_x.nnz:
            train, check, infer = fit_x, check_x, interactions
        else:
            # (no user has enough rows for an inner split: train every epoch on all of x)
            train, infer = interactions, None
            check = sp.csr_matrix(valid) if valid is not None else None
        r = train_lightgcn(
            train,
            check,
            infer=infer,
            dim=self.dim,
            layers=self.layers,
            lr=self.lr,
            l2=self.l2,
            batch_size=self.batch_size,
            epochs=self.epochs,
            patience=self.patience,
            max_seconds=self.max_seconds,
            seed=self.seed,
            progress=progress,
        )
        self.stopped_by_ = r.stopped_by
        self.best_epoch_ = r.best_epoch
        # the model as validated (a tuple: not part of the saved state)
        self.inner_ = (r.train_users, r.train_items, None, train)
        self.user_factors_ = r.users
        self.item_factors_ = r.items
        # (epoch, loss, recall, seconds) per epoch, for the report's curves
        self.history_ = np.array(
            [[h["epoch"], h["loss"], h["recall"], h["seconds"]] for h in r.history]
        )
