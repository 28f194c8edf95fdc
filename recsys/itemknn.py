"""ItemKNN: item-based nearest neighbours on cosine similarity of binarised interactions."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.base import Recommender

__all__ = ["ItemKNN", "cosine_knn"]


def cosine_knn(x: sp.csr_matrix, neighbours: int, shrink: float = 0.0) -> sp.csr_matrix:
    """Item-item cosine similarity, keeping the ``neighbours`` largest per item (self excluded).

    Shapes:
        x: ``(num_users, num_items)`` binary; returns ``(num_items, num_items)`` CSR, row = item.

    Examples:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32))
        >>> cosine_knn(x, 1).toarray().round(2).tolist()
        [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    xt = x.T.tocsr()
    norms = np.sqrt(np.asarray(xt.multiply(xt).sum(axis=1)).ravel())
    co = (xt @ xt.T).tocsr().astype(np.float32)
    co.setdiag(0)
    co.eliminate_zeros()
    rows, cols, vals = [], [], []
    for i in range(co.shape[0]):
        s, e = co.indptr[i], co.indptr[i + 1]
        if s == e:
            continue
        c = co.indices[s:e]
        v = co.data[s:e] / (norms[i] * norms[c] + shrink + 1e-12)
        if len(v) > neighbours:
            keep = np.argpartition(-v, neighbours - 1)[:neighbours]
            c, v = c[keep], v[keep]
        rows.append(np.full(len(c), i))
        cols.append(c)
        vals.append(v)
    n = co.shape[0]
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
        dtype=np.float32,
    )


class ItemKNN(Recommender):
    """Score of item j for user u: sum over u's items i of sim(i, j), over i's neighbours.

    Args:
        neighbours: similar items kept per item.
        shrink: added to the cosine's denominator (damps pairs with little support).

    Examples:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float32))
        >>> ItemKNN(neighbours=5).fit(x).recommend([1], k=1)[0].tolist()
        [[1]]
    """

    similarity_: sp.csr_matrix

    def __init__(self, neighbours: int = 100, shrink: float = 0.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def _fit(self, interactions: sp.csr_matrix, **side: Any) -> None:
        x = interactions.copy()
        x.data[:] = 1.0
        self.similarity_ = cosine_knn(x, self.neighbours, self.shrink)

    def _scores(self, users: np.ndarray) -> np.ndarray:
        x = self.interactions_[users].copy()
        x.data[:] = 1.0
        return np.asarray((x @ self.similarity_).todense())

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        return np.asarray(self.similarity_[items].todense())
