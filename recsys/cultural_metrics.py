"""Beyond-accuracy metrics of cross-cultural recommendation (design note 000, §5): plain functions
of one result list.

Examples:
    >>> round(function_share(["Dance", "Love", "Dance"], "Dance"), 3)
    0.667
    >>> round(ndcg_at_k([1, 0, 1], n_relevant=2), 3)
    0.92
    >>> even = {"a": 0.5, "b": 0.5}
    >>> calibration_kl(["a", "a"], even) > calibration_kl(["a", "b"], even)
    True
    >>> serendipity(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    0.5
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "calibration_kl",
    "function_share",
    "minority_exposure",
    "ndcg_at_k",
    "serendipity",
]


def function_share(result_functions: Sequence[str], query_function: str) -> float:
    """Share of the results that serve the query's function."""
    if not result_functions:
        return 0.0
    return sum(f == query_function for f in result_functions) / len(result_functions)


def ndcg_at_k(relevance: Sequence[float], n_relevant: int) -> float:
    """nDCG of a ranked list with binary (or graded) relevance; ``n_relevant`` sizes the ideal
    list. Returns 0 when nothing is relevant."""
    rel = np.asarray(relevance, dtype=np.float64)
    if n_relevant <= 0 or rel.size == 0:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, rel.size + 2))
    ideal = discounts[: min(n_relevant, rel.size)].sum()
    return float((rel * discounts).sum() / ideal)


def serendipity(unexpectedness: np.ndarray, relevance: np.ndarray) -> float:
    """Mean of unexpectedness × relevance over the results.

    Args:
        unexpectedness: Shapes: ``(k,)`` in ``[0, 1]``: style distance (z_s) to the query or the
            user's history, rescaled.
        relevance: ``(k,)`` in ``[0, 1]``: affect similarity (z_a), rescaled.
    """
    if len(unexpectedness) == 0:
        return 0.0
    u = np.clip(np.asarray(unexpectedness, dtype=np.float64), 0.0, 1.0)
    r = np.clip(np.asarray(relevance, dtype=np.float64), 0.0, 1.0)
    return float((u * r).mean())


def minority_exposure(result_cultures: Sequence[str], minority: set[str]) -> float:
    """Share of the results whose culture is in the ``minority`` set."""
    if not result_cultures:
        return 0.0
    return sum(c in minority for c in result_cultures) / len(result_cultures)


def calibration_kl(
    result_cultures: Sequence[str], target: Mapping[str, float], alpha: float = 0.01
) -> float:
    """Miscalibration after Steck (2018): ``KL(p || (1 - alpha) q + alpha p)`` where ``p`` is the
    target distribution over cultures and ``q`` the recommended list's. 0 is perfectly calibrated.
    """
    total = float(sum(target.values()))
    if total <= 0:
        raise ValueError("the target distribution needs positive mass")
    counts = Counter(result_cultures)
    n = max(len(result_cultures), 1)
    kl = 0.0
    for c, w in target.items():
        p = w / total
        if p <= 0:
            continue
        q = (1 - alpha) * counts.get(c, 0) / n + alpha * p
        kl += p * np.log(p / q)
    return float(kl)
