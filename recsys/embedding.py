"""Recommenders that end as one vector per user and per item; score = dot product."""

from __future__ import annotations

import numpy as np

from recsys.base import Recommender

__all__ = ["EmbeddingRecommender", "unit_rows"]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). Shapes: ``(n, d)`` → ``(n, d)``."""
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1.0, n)


class EmbeddingRecommender(Recommender):
    """Base of the embedding models: subclasses set ``user_factors_`` and ``item_factors_``.

    Items are ranked by ``user · item``; similar items and users by cosine of their vectors.

    Shapes:
        ``user_factors_``: ``(num_users, dim)``; ``item_factors_``: ``(num_items, dim)``.
    """

    user_factors_: np.ndarray
    item_factors_: np.ndarray

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        v = unit_rows(self.item_factors_)
        return v[items] @ v.T

    def _user_similarity(self, users: np.ndarray) -> np.ndarray:
        v = unit_rows(self.user_factors_)
        return v[users] @ v.T
