"""Embeddings for artists nobody listened to in training, from their features.

An artist without a training listener is only ever a negative of the softmax, so its learned
embedding points away from every user and it is never recommended — yet 939 of the 7,429
held-out Last.fm pairs (12.6 %) are such artists, and 1,112 of the 2,021 have tags. Their
embedding is instead predicted from their features (the tag-text embedding) by a ridge
regression fitted on the artists the model did learn (≥ ``min_listeners`` training listeners:
rarer ones are mostly memorised), and their scores are shifted by one offset: the evidence for a
new artist is weaker than for one with listeners, so it should rank below an equally similar
known one. The offset is chosen on validation pairs when there are some
(:func:`choose_offset`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gnn.train import recall_at_k

__all__ = ["DEFAULT_OFFSET", "OFFSET_GRID", "choose_offset", "cold_start", "content_map"]

#: Offsets tried by :func:`choose_offset`, in cosine units (the known artists' scores).
OFFSET_GRID = (-0.2, -0.15, -0.125, -0.1, -0.075, -0.05, 0.0)
#: The offset used without validation pairs: the best of the grid on the Last.fm split
#: (docs/recommenders.md).
DEFAULT_OFFSET = -0.1


def content_map(x: np.ndarray, emb: np.ndarray, rows: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge regression from features (plus an intercept) to embeddings, fitted on ``rows``.

    Shapes:
        x: ``(n, f)``; emb: ``(n, d)``; rows: ``(n,)`` bool; returns ``(f + 1, d)``.

    Examples:
        >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> w = content_map(x, x @ np.array([[2.0], [3.0]]), np.ones(3, bool), ridge=1e-9)
        >>> np.round(w.ravel(), 4).tolist()  # the two slopes and a zero intercept
        [2.0, 3.0, 0.0]
    """
    xa = np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)]).astype(np.float64)
    a = xa[rows]
    gram = a.T @ a + ridge * np.eye(a.shape[1])
    return np.linalg.solve(gram, a.T @ emb[rows].astype(np.float64))


def cold_start(
    emb: np.ndarray,
    x: np.ndarray,
    listeners: np.ndarray,
    *,
    ridge: float = 1.0,
    min_listeners: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace the embeddings of artists without training listeners by predicted ones.

    Args:
        emb: the trained embeddings (unit rows).
        x: the artists' features; an all-zero row means none (such artists are left as they are).
        listeners: training listeners per artist.
        ridge: the regression's L2 penalty.
        min_listeners: the artists the regression learns from have at least this many.

    Returns:
        The embeddings with the cold rows predicted (unit length), and the mask of those rows.

    Shapes:
        emb: ``(n, d)``; x: ``(n, f)``; listeners: ``(n,)``; returns ``(n, d)`` and ``(n,)``.
    """
    has_x = np.abs(x).sum(1) > 0
    cold = (listeners == 0) & has_x
    learn = (listeners >= min_listeners) & has_x
    out = emb.copy()
    if not cold.any() or learn.sum() <= x.shape[1] // 10:
        return out, np.zeros(len(emb), dtype=bool)
    w = content_map(x, emb, learn, ridge)
    pred = np.hstack([x[cold], np.ones((int(cold.sum()), 1))]) @ w
    norm = np.linalg.norm(pred, axis=1, keepdims=True)
    out[cold] = (pred / np.where(norm == 0, 1.0, norm)).astype(emb.dtype)
    return out, cold


def choose_offset(
    user_emb: np.ndarray,
    item_emb: np.ndarray,
    cold: np.ndarray,
    train: np.ndarray,
    valid: np.ndarray,
    grid: Sequence[float] = OFFSET_GRID,
    k: int = 20,
) -> tuple[float | None, dict[float, float]]:
    """The offset for cold items with the best validation Recall@k, or ``None`` if none helps.

    Each offset is compared with leaving the cold items out of reach (their trained embeddings,
    which the softmax pushed away from every user); ``None`` means that was best.

    Shapes:
        user_emb: ``(U, d)``; item_emb: ``(I, d)`` with cold rows predicted; cold: ``(I,)``;
        train, valid: ``(2, E)`` (user, item) index pairs. Returns the offset and the Recall@k
        of every offset tried (key ``-inf``: cold items unreachable).
    """
    users = torch.from_numpy(np.hstack([user_emb, np.ones((len(user_emb), 1))]))
    tr, va = torch.from_numpy(train), torch.from_numpy(valid)
    scores: dict[float, float] = {}
    for offset in (-np.inf, *grid):
        col = np.where(cold, offset, 0.0)[:, None]
        items = torch.from_numpy(np.hstack([item_emb, col]))
        scores[float(offset)] = recall_at_k(users, items, tr, va, k)
    best = max(scores, key=lambda o: scores[o])
    return (None if best == -np.inf else best), scores
