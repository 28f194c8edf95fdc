"""The estimator around :mod:`recsys.ot`: :class:`CultureAligner` transports points of one culture
into another culture's geometry.

``fit(X)`` takes the embedding of every track (``(n, d)``); a culture is a set of rows. For a
(source, target) pair the aligner computes one entropic plan between the two clouds (at most
``max_points`` anchors each, chosen deterministically, so a world region of a million tracks costs
no more than a society), caches it with the target's log potential, and maps any query point —
inside the source cloud or not — through :func:`recsys.ot.out_of_sample_row`. The cache belongs to
the fitted state: refitting (as the recommender does when the graph changes) empties it.

Methods: ``"sinkhorn"`` (balanced, log-domain), ``"unbalanced"`` (KL-relaxed marginals, for
cultures of different size or coverage), ``"fgw"`` (fused Gromov-Wasserstein: structure inside
each cloud plus the cross cost; computed per query, not cached).

Examples:
    >>> import numpy as np
    >>> X = np.array([[0.0, 0], [1, 0], [0.1, 0], [1.1, 0]])
    >>> al = CultureAligner(method="sinkhorn", reg=0.01).fit(X)
    >>> w = al.transport(X[1], "A", np.array([0, 1]), "B", np.array([2, 3]))
    >>> w.anchors.tolist(), np.round(w.weights, 2).tolist()
    ([2, 3], [0.0, 1.0])
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

import numpy as np

from recsys import ot as otm
from recsys.base import Estimator, NotFittedError

__all__ = ["CultureAligner", "Coupling", "METHODS"]

METHODS = ("sinkhorn", "unbalanced", "fgw")


@dataclass(frozen=True)
class Coupling:
    """Where a query's mass goes in the target culture.

    Attributes:
        anchors: Shapes: ``(m,)`` rows of the target anchors.
        weights: ``(m,)`` the query's normalised coupling with each anchor (sums to 1).
        image: ``(d,)`` the barycentric image of the query in the target cloud.
    """

    anchors: np.ndarray
    weights: np.ndarray
    image: np.ndarray


@dataclass(frozen=True)
class _Plan:
    source: np.ndarray
    target: np.ndarray
    plan: np.ndarray
    log_v: np.ndarray
    scale: float


class CultureAligner(Estimator):
    """Entropic OT between per-culture clouds of track embeddings, cached per culture pair.

    Args:
        method: ``"unbalanced"`` (default), ``"sinkhorn"`` or ``"fgw"``.
        reg: entropic regularisation, relative to the mean ground cost.
        reg_m: marginal relaxation of the unbalanced method.
        alpha: structure weight of ``"fgw"``.
        max_points: anchors per cloud at most (larger clouds are subsampled deterministically).
        cache_size: culture pairs kept.
        seed: subsampling seed.
    """

    def __init__(
        self,
        method: str = "unbalanced",
        reg: float = 0.05,
        reg_m: float = 1.0,
        alpha: float = 0.5,
        max_points: int = 256,
        cache_size: int = 4096,
        seed: int = 0,
    ) -> None:
        self.method = method
        self.reg = reg
        self.reg_m = reg_m
        self.alpha = alpha
        self.max_points = max_points
        self.cache_size = cache_size
        self.seed = seed

    def fit(self, X: np.ndarray) -> Self:
        """Remember the embedding and start an empty plan cache.

        Args:
            X: Shapes: ``(n, d)``, one row per catalogue track.
        """
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r}: choose one of {', '.join(METHODS)}")
        if self.reg <= 0 or self.reg_m <= 0 or self.max_points < 2:
            raise ValueError("reg and reg_m must be positive and max_points at least 2")
        self.X_ = np.asarray(X, dtype=np.float64)
        self.plans_: OrderedDict[tuple[str, str], _Plan] = OrderedDict()
        self._lock = threading.Lock()  # the dashboard serves requests from several threads
        return self

    def _check(self) -> None:
        if not hasattr(self, "X_"):
            raise NotFittedError("CultureAligner is not fitted; call fit(X) first")

    def refreshed(
        self, X: np.ndarray, moved: np.ndarray, stale: Callable[[str, str], bool]
    ) -> CultureAligner:
        """A new aligner fitted on ``X``, the embedding with rows inserted, that keeps this one's
        plans between cultures that gained no row.

        Such a plan is what a fresh computation would give: its cultures hold the same tracks in
        the same order, so :meth:`anchors` picks the same tracks (only their row numbers move)
        and the same points are transported. A plan that touches a culture with a new row is
        dropped and computed again on first use. This aligner is left as it is (it may be
        answering queries meanwhile).

        Args:
            X: Shapes: ``(n', d)``; ``X[moved]`` is the embedding this aligner was fitted on.
            moved: Shapes: ``(n,)`` int, ascending: the row in ``X`` of each fitted row.
            stale: ``(source, target) -> bool``, whether a cached plan's cultures gained rows.
        """
        self._check()
        out = CultureAligner(**self.get_params()).fit(X)
        with self._lock:
            cached = list(self.plans_.items())
        for (source, target), p in cached:
            if not stale(source, target):
                out.plans_[source, target] = _Plan(
                    moved[p.source], moved[p.target], p.plan, p.log_v, p.scale
                )
        return out

    def anchors(self, key: str, rows: np.ndarray) -> np.ndarray:
        """At most ``max_points`` of ``rows`` (all of them when few enough), ascending."""
        rows = np.asarray(rows)
        if len(rows) <= self.max_points:
            return rows
        digest = sum(ord(c) * (i + 1) for i, c in enumerate(key))
        rng = np.random.default_rng([self.seed, digest])
        return np.sort(rng.choice(rows, self.max_points, replace=False))

    def plan(self, source: str, source_rows: np.ndarray, target: str, target_rows: np.ndarray):
        """The cached plan between two cultures (computed on first use).

        Returns:
            ``(source anchors (n,), target anchors (m,), plan (n, m))``.
        """
        p = self._plan(source, source_rows, target, target_rows)
        return p.source, p.target, p.plan

    def _plan(
        self, source: str, source_rows: np.ndarray, target: str, target_rows: np.ndarray
    ) -> _Plan:
        self._check()
        key = (source, target)
        with self._lock:
            hit = self.plans_.get(key)
            if hit is not None:
                self.plans_.move_to_end(key)
                return hit
        s = self.anchors(source, source_rows)
        t = self.anchors(target, target_rows)
        if len(s) == 0 or len(t) == 0:
            raise ValueError(f"cannot align {source!r} with {target!r}: a culture has no tracks")
        xs, xt = self.X_[s], self.X_[t]
        cost, scale = otm.cost_and_scale(xs, xt)
        if self.method == "unbalanced":
            g = otm.unbalanced_plan(xs, xt, cost=cost, reg=self.reg, reg_m=self.reg_m)
        else:  # sinkhorn; fgw plans for display use the balanced plan too
            g = otm.sinkhorn_plan(xs, xt, cost=cost, reg=self.reg)
        p = _Plan(s, t, g, otm.target_log_potential(g, cost, self.reg), scale)
        with self._lock:
            self.plans_[key] = p
            if len(self.plans_) > self.cache_size:
                self.plans_.popitem(last=False)
        return p

    def transport(
        self,
        query: np.ndarray,
        source: str,
        source_rows: np.ndarray,
        target: str,
        target_rows: np.ndarray,
    ) -> Coupling:
        """Couple one query point (``(d,)``, from the source culture) with the target culture."""
        self._check()
        q = np.asarray(query, dtype=np.float64)
        if self.method == "fgw":
            s = self.anchors(source, source_rows)
            t = self.anchors(target, target_rows)
            xs = np.vstack([q[None], self.X_[s]])
            cross = otm.cost_matrix(xs, self.X_[t])
            g = otm.fused_gw_plan(xs, self.X_[t], cross_cost=cross, alpha=self.alpha, reg=self.reg)
            w = g[0] / g[0].sum() if g[0].sum() > 0 else np.full(len(t), 1.0 / len(t))
            return Coupling(t, w, w @ self.X_[t])
        p = self._plan(source, source_rows, target, target_rows)
        cost_row = ((self.X_[p.target] - q) ** 2).sum(axis=1) / p.scale
        w = otm.out_of_sample_row(cost_row, p.log_v, self.reg)
        return Coupling(p.target, w, w @ self.X_[p.target])
