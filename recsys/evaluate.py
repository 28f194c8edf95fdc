"""One evaluation for every model: accuracy, coverage, culture exposure and friend suggestions.

Every model is scored by :func:`evaluate` on the same :class:`~recsys.split.Interactions`:

- **Recall@k** = held-out artists found in the top ``k`` / held-out artists, averaged over users
  with at least one held-out artist; **NDCG@k** with binary gains, ideal = all held-out first.
- **coverage** = distinct artists recommended to anybody / artists in the catalogue.
- **culture exposure**: among recommended artists that have a ``FROM_CULTURE`` link, the share
  linked to at least one non-Western world region (not Europe, not North America), beside the same
  share in the users' training histories; ``exposure_ratio`` = recommended / history.
- **friend hit rate@10**: users with a held-out friendship whose 10 suggested users (known friends
  excluded) contain one of them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import neo4j
import numpy as np
import scipy.sparse as sp

from recsys import queries as q
from recsys.base import Recommender
from recsys.split import Interactions

__all__ = [
    "WESTERN_REGIONS",
    "Evaluation",
    "artist_world_regions",
    "culture_exposure",
    "evaluate",
    "friend_hit_rate",
    "non_western_mask",
    "ranking_metrics",
]

#: World regions counted as Western in culture exposure.
WESTERN_REGIONS = frozenset({"WR-europe", "WR-north-america"})


@dataclass(frozen=True)
class Evaluation:
    """The figures of one model on one split (see the module docstring for definitions)."""

    model: str
    k: int
    recall: float
    ndcg: float
    coverage: float
    exposure_recommended: float
    exposure_history: float
    exposure_ratio: float
    friend_hit_rate: float
    users: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The figures as a plain dict (for JSON and tables)."""
        return asdict(self)


def ranking_metrics(ids: np.ndarray, truth: sp.csr_matrix) -> tuple[float, float]:
    """Mean Recall@k and NDCG@k of ranked lists against held-out items.

    Shapes:
        ids: ``(n, k)`` ranked item indices; truth: ``(n, num_items)``, rows of the same users.

    Examples:
        >>> t = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]]))
        >>> r, n = ranking_metrics(np.array([[0, 1], [1, 0]]), t)
        >>> round(r, 3), round(n, 3)
        (0.75, 0.807)
    """
    truth = sp.csr_matrix(truth)
    n, k = ids.shape
    hits = np.asarray(truth[np.arange(n)[:, None], ids].todense()) > 0
    n_true = np.diff(truth.indptr)
    ok = n_true > 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts).sum(axis=1)
    idcg = np.array([discounts[: min(t, k)].sum() for t in n_true])
    recall = hits.sum(axis=1)[ok] / n_true[ok]
    return float(recall.mean()), float((dcg[ok] / idcg[ok]).mean())


def non_western_mask(
    item_ids: np.ndarray, regions: Mapping[Any, Sequence[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per item: whether it has a culture link, and whether one of its regions is non-Western.

    Shapes:
        item_ids: ``(num_items,)``; returns two bool arrays ``(num_items,)``.

    Examples:
        >>> has, nw = non_western_mask(np.array([1, 2, 3]), {1: ["WR-europe"], 2: ["WR-asia"]})
        >>> has.tolist(), nw.tolist()
        ([True, True, False], [False, True, False])
    """
    has = np.array([bool(regions.get(i)) for i in item_ids.tolist()], dtype=bool)
    nw = np.array(
        [any(r not in WESTERN_REGIONS for r in regions.get(i, ())) for i in item_ids.tolist()],
        dtype=bool,
    )
    return has, nw


def culture_exposure(ids: np.ndarray, has_culture: np.ndarray, non_western: np.ndarray) -> float:
    """Share of non-Western artists among the culture-linked ones in ranked lists (NaN if none).

    Shapes:
        ids: ``(n, k)`` item indices (negative or masked entries are not allowed);
        has_culture, non_western: ``(num_items,)`` bool.
    """
    flat = ids.ravel()
    linked = has_culture[flat]
    return float(non_western[flat][linked].mean()) if linked.any() else float("nan")


def friend_hit_rate(model: Recommender, split: Interactions, k: int = 10) -> float:
    """Share of users with a held-out friendship who get one of those friends in their top ``k``."""
    users = np.flatnonzero(split.friends_valid.getnnz(axis=1) > 0)
    if len(users) == 0:
        return float("nan")
    ids, _ = model.similar_users(users, k, exclude=split.friends_train)
    truth = split.friends_valid[users]
    hits = np.asarray(truth[np.arange(len(users))[:, None], ids].todense()) > 0
    return float(hits.any(axis=1).mean())


def artist_world_regions(
    driver: neo4j.Driver, *, database: str | None = None
) -> dict[Any, list[str]]:
    """World regions of every culture-linked artist, read from the graph.

    Returns:
        artist id → world-region Culture ids (e.g. ``["WR-asia"]``).
    """
    records, _, _ = driver.execute_query(
        q.ARTIST_WORLD_REGIONS, database_=database, routing_=neo4j.RoutingControl.READ
    )
    return {r["artist"]: list(r["regions"]) for r in records}


def evaluate(
    model: Recommender,
    split: Interactions,
    *,
    k: int = 20,
    regions: Mapping[Any, Sequence[str]] | None = None,
    friend_k: int = 10,
    name: str | None = None,
) -> Evaluation:
    """Score a fitted model on the held-out rows of ``split``.

    Args:
        model: fitted on ``split.train`` (and its friendships, when it uses them).
        split: the split.
        k: list length for recall, NDCG, coverage and exposure.
        regions: artist id → world regions (:func:`artist_world_regions`); exposure is NaN
            without it.
        friend_k: list length for the friend hit rate.
        name: the model's name in the report (default: its class name).
    """
    start = time.perf_counter()
    users = np.flatnonzero(split.valid.getnnz(axis=1) > 0)
    ids, scores = model.recommend(users, k, exclude_seen=True)
    recall, ndcg = ranking_metrics(ids, split.valid[users])
    finite = np.isfinite(scores)
    coverage = len(np.unique(ids[finite])) / split.train.shape[1]
    has, nw = non_western_mask(split.item_ids, regions or {})
    rec_exp = culture_exposure(np.where(finite, ids, ids[:, :1]), has, nw)
    hist = split.train[users]
    hist_exp = float(nw[hist.indices][has[hist.indices]].mean()) if has.any() else float("nan")
    return Evaluation(
        model=name or type(model).__name__,
        k=k,
        recall=recall,
        ndcg=ndcg,
        coverage=coverage,
        exposure_recommended=rec_exp,
        exposure_history=hist_exp,
        exposure_ratio=rec_exp / hist_exp if hist_exp else float("nan"),
        friend_hit_rate=friend_hit_rate(model, split, friend_k),
        users=len(users),
        seconds=time.perf_counter() - start,
    )
