"""Recommenders that end as one vector per user and per item; score = dot product."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

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
    #: the models that carve an inner split from their training rows and validate on it
    #: themselves (a blend then trains them once and weighs them by :meth:`inner_scores`)
    validates_inner: ClassVar[bool] = False
    #: (user vectors, item vectors, item score offsets or None, the rows trained on) of the
    #: model as validated; a tuple, so not part of the saved state
    inner_: tuple[np.ndarray, np.ndarray, np.ndarray | None, sp.csr_matrix]

    def inner_scores(self, users: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix]:
        """Scores of the model as validated: trained and propagated without the inner rows.

        Shapes:
            users: ``(n,)``; returns scores ``(n, num_items)`` and the rows it was trained on
            ``(num_users, num_items)`` (to exclude as seen).
        """
        self._check_fitted()
        if not hasattr(self, "inner_"):
            raise ValueError(
                f"{type(self).__name__} has no inner scores: they exist only for the models "
                "that validate on an inner split, after fit in this process (not after load)"
            )
        u, a, off, rows = self.inner_
        scores = u[users] @ a.T
        return (scores if off is None else scores + off), rows

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        v = unit_rows(self.item_factors_)
        return v[items] @ v.T

    def _user_similarity(self, users: np.ndarray) -> np.ndarray:
        v = unit_rows(self.user_factors_)
        return v[users] @ v.T
