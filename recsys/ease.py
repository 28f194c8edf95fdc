"""EASE (Steck, 2019): a closed-form item-item linear model with a zero diagonal."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recsys.base import Recommender

__all__ = ["EASE", "ease_weights"]


def ease_weights(x: sp.csr_matrix, l2: float) -> np.ndarray:
    """EASE's item-item weights ``B = I - P / diag(P)``, ``P = (XᵀX + λI)⁻¹``, ``diag(B) = 0``.

    Shapes:
        x: ``(num_users, num_items)`` binary; returns ``(num_items, num_items)`` float32.

    Examples:
        >>> x = sp.csr_matrix(np.array([[1, 1], [1, 1], [1, 0]], dtype=np.float32))
        >>> ease_weights(x, 1.0).astype(float).round(3).tolist()
        [[0.0, 0.5], [0.667, 0.0]]
    """
    g = torch.from_numpy(np.asarray((x.T @ x).todense(), dtype=np.float64))
    g += l2 * torch.eye(g.shape[0], dtype=torch.float64)
    p = torch.linalg.inv(g)
    b = -p / torch.diagonal(p)
    b.fill_diagonal_(0.0)
    return b.to(torch.float32).numpy()


class EASE(Recommender):
    """EASE over the items with at least ``min_item_users`` training users.

    Items below that support (on Last.fm most of them have a single listener) are left out of the
    dense ``(n, n)`` solve, which keeps it to seconds, and score ``-inf``.

    Args:
        l2: the ridge weight λ.
        min_item_users: training users an item needs to be modelled.

    Examples:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0]], dtype=np.float32))
        >>> EASE(l2=1.0, min_item_users=1).fit(x).recommend([2], k=1)[0].tolist()
        [[1]]
    """

    items_: np.ndarray
    weights_: np.ndarray

    def __init__(self, l2: float = 500.0, min_item_users: int = 2) -> None:
        self.l2 = l2
        self.min_item_users = min_item_users

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        x = interactions.copy()
        x.data[:] = 1.0
        self.items_ = np.flatnonzero(x.getnnz(axis=0) >= self.min_item_users)
        self.weights_ = ease_weights(x[:, self.items_].tocsc(), self.l2)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        if not self.weights_.flags["C_CONTIGUOUS"]:
            # the solve returns Fortran order (also after load); sparse @ F-order dense was
            # ~300 ms for one user on the real data, ~1 ms in C order
            self.weights_ = np.ascontiguousarray(self.weights_)
        x = self.interactions_[users][:, self.items_].copy()
        x.data[:] = 1.0
        out = np.full((len(users), self.num_items), -np.inf, dtype=np.float32)
        out[:, self.items_] = x @ self.weights_
        return out

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        out = np.full((len(items), self.num_items), -np.inf, dtype=np.float32)
        pos = np.searchsorted(self.items_, items)
        known = (pos < len(self.items_)) & (
            self.items_[np.minimum(pos, len(self.items_) - 1)] == items
        )
        rows = np.flatnonzero(known)
        out[np.ix_(rows, self.items_)] = self.weights_[pos[rows]]
        return out
