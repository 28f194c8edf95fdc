"""LightGCN (PyG's model) through the recommender contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from gnn.lightgcn import train_lightgcn
from recsys.embedding import EmbeddingRecommender

__all__ = ["LightGCN"]


class LightGCN(EmbeddingRecommender):
    """PyG's LightGCN trained with BPR (:func:`gnn.lightgcn.train_lightgcn`).

    ``fit(x, valid=...)`` early-stops on held-out pairs; without ``valid`` it trains ``epochs``.

    Args:
        dim, layers, lr, l2, batch_size, epochs, patience, max_seconds, seed: see
            :func:`gnn.lightgcn.train_lightgcn`.
    """

    history_: np.ndarray

    def __init__(
        self,
        dim: int = 64,
        layers: int = 3,
        lr: float = 5e-3,
        l2: float = 1e-4,
        batch_size: int = 2048,
        epochs: int = 100,
        patience: int = 5,
        max_seconds: float = 540.0,
        seed: int = 0,
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

    def _fit(
        self, interactions: sp.csr_matrix, *, valid: sp.csr_matrix | None = None, **side: Any
    ) -> None:
        r = train_lightgcn(
            interactions,
            valid,
            dim=self.dim,
            layers=self.layers,
            lr=self.lr,
            l2=self.l2,
            batch_size=self.batch_size,
            epochs=self.epochs,
            patience=self.patience,
            max_seconds=self.max_seconds,
            seed=self.seed,
        )
        self.user_factors_ = r.users
        self.item_factors_ = r.items
        # (epoch, loss, recall, seconds) per epoch, for the report's curves
        self.history_ = np.array(
            [[h["epoch"], h["loss"], h["recall"], h["seconds"]] for h in r.history]
        )
