"""MostPop: recommend the items most users interacted with, the same list for everyone."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.base import Recommender

__all__ = ["MostPop"]


class MostPop(Recommender):
    """Popularity baseline: an item's score is the number of users who interacted with it.

    ``similar_items`` and ``similar_users`` fall back to the base class's co-occurrence cosine, so
    the baseline still answers every call of the contract.

    Examples:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1]]))
        >>> MostPop().fit(x).recommend([0], k=1)[0].tolist()
        [[2]]
    """

    personalised: ClassVar[bool] = False

    popularity_: np.ndarray

    def __init__(self) -> None:
        pass

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        self.popularity_ = np.asarray(interactions.getnnz(axis=0), dtype=np.float32)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(users), len(self.popularity_)))
