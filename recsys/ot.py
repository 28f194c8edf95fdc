"""Optimal-transport math on POT: plain functions, no state (the estimator is
:class:`recsys.alignment.CultureAligner`).

Notation: a source cloud ``xs`` of ``n`` points with weights ``a`` (sum 1), a target cloud ``xt``
of ``m`` points with weights ``b``; a plan ``G`` of shape ``(n, m)`` couples them.

* :func:`sinkhorn_plan` — entropic OT in the log domain (stable for small ``reg``), for clouds that
  live in one comparable space (the ground cost is a distance between points).
* :func:`unbalanced_plan` — entropic unbalanced OT: the marginals are only softly enforced (KL
  penalty ``reg_m``), so a small culture need not spread its mass over every song of a large one,
  and songs with nothing comparable on the other side may stay uncoupled.
* :func:`fused_gw_plan` — entropic fused Gromov-Wasserstein: compares the *internal* geometry of
  the two clouds (pairwise distances inside each), optionally fused with a cross cost, for spaces
  that are not directly comparable.
* :func:`barycentric_map` — the image of each source point in the target cloud,
  ``T(x_i) = sum_j G_ij y_j / sum_j G_ij``.

Examples:
    >>> import numpy as np
    >>> xs = np.array([[0.0], [1.0]]); xt = np.array([[0.1], [1.1]])
    >>> G = sinkhorn_plan(xs, xt, reg=0.01)
    >>> np.round(G * 2, 3)  # order is kept: 0 -> 0.1, 1 -> 1.1
    array([[1., 0.],
           [0., 1.]])
    >>> barycentric_map(G, xt).round(3).ravel().tolist()
    [0.1, 1.1]
"""

from __future__ import annotations

import warnings

import numpy as np
import ot

__all__ = [
    "barycentric_map",
    "cost_and_scale",
    "cost_matrix",
    "fused_gw_plan",
    "out_of_sample_row",
    "sinkhorn_plan",
    "target_log_potential",
    "unbalanced_plan",
    "uniform",
]


def uniform(n: int) -> np.ndarray:
    """Uniform weights. Shapes: returns ``(n,)`` summing to 1."""
    if n <= 0:
        raise ValueError("an empty cloud has no weights; a culture needs at least one track")
    return np.full(n, 1.0 / n)


def cost_and_scale(
    xs: np.ndarray, xt: np.ndarray, metric: str = "sqeuclidean"
) -> tuple[np.ndarray, float]:
    """Ground cost between two clouds divided by its mean (``reg`` is then unit-free), and that
    mean (to put a new point's costs on the same scale).

    Args:
        xs: Shapes: ``(n, d)``. xt: ``(m, d)``.
        metric: any metric of :func:`ot.dist` (``"sqeuclidean"``, ``"euclidean"``, ``"cosine"``…).

    Returns:
        ``(n, m)`` non-negative costs and the scale (1.0 when every cost is 0).
    """
    m = ot.dist(np.asarray(xs, dtype=np.float64), np.asarray(xt, dtype=np.float64), metric=metric)
    m = np.maximum(m, 0.0)
    scale = float(m.mean()) or 1.0
    return m / scale, scale


def cost_matrix(xs: np.ndarray, xt: np.ndarray, metric: str = "sqeuclidean") -> np.ndarray:
    """:func:`cost_and_scale` without the scale. Shapes: ``(n, d)``, ``(m, d)`` → ``(n, m)``."""
    return cost_and_scale(xs, xt, metric)[0]


def _weights(w: np.ndarray | None, n: int) -> np.ndarray:
    if w is None:
        return uniform(n)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {n} non-negative numbers with a positive sum")
    return w / w.sum()


def _problem(
    xs: np.ndarray,
    xt: np.ndarray,
    a: np.ndarray | None,
    b: np.ndarray | None,
    metric: str,
    cost: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cost matrix and both weight vectors of a transport problem."""
    m = cost_matrix(xs, xt, metric) if cost is None else np.asarray(cost, dtype=np.float64)
    return m, _weights(a, m.shape[0]), _weights(b, m.shape[1])


def _quiet(fn, *args, **kwargs):
    # POT warns when it stops at numItermax; the plan is still the best iterate and usable.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def sinkhorn_plan(
    xs: np.ndarray,
    xt: np.ndarray,
    *,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    reg: float = 0.05,
    metric: str = "sqeuclidean",
    cost: np.ndarray | None = None,
    max_iter: int = 2000,
) -> np.ndarray:
    """Entropic OT plan (log-domain Sinkhorn) between two clouds in one space.

    Args:
        xs: Shapes: ``(n, d)``. xt: ``(m, d)``.
        a, b: weights ``(n,)``, ``(m,)``; uniform when ``None``.
        reg: entropic regularisation relative to the mean cost (smaller: sharper plan).
        metric: ground metric when ``cost`` is not given.
        cost: a ready ``(n, m)`` cost (then ``xs``/``xt`` only give the sizes).

    Returns:
        The plan ``(n, m)``; rows sum to ``a``, columns to ``b``.
    """
    m, a_, b_ = _problem(xs, xt, a, b, metric, cost)
    return np.asarray(
        _quiet(ot.sinkhorn, a_, b_, m, reg, method="sinkhorn_log", numItermax=max_iter)
    )


def unbalanced_plan(
    xs: np.ndarray,
    xt: np.ndarray,
    *,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    reg: float = 0.05,
    reg_m: float = 1.0,
    metric: str = "sqeuclidean",
    cost: np.ndarray | None = None,
    max_iter: int = 500,
) -> np.ndarray:
    """Entropic unbalanced OT plan: marginals enforced by a KL penalty of strength ``reg_m``.

    Args:
        xs: Shapes: ``(n, d)``. xt: ``(m, d)``.
        a, b: weights; uniform when ``None``.
        reg: entropic regularisation relative to the mean cost.
        reg_m: marginal relaxation (large: balanced OT; small: each point keeps to its neighbours).
        metric, cost: as in :func:`sinkhorn_plan`.

    Returns:
        The plan ``(n, m)`` (its marginals approximate ``a`` and ``b``).
    """
    m, a_, b_ = _problem(xs, xt, a, b, metric, cost)
    return np.asarray(
        _quiet(
            ot.unbalanced.sinkhorn_unbalanced,
            a_,
            b_,
            m,
            reg,
            reg_m,
            method="sinkhorn",
            numItermax=max_iter,
        )
    )


def fused_gw_plan(
    xs: np.ndarray,
    xt: np.ndarray,
    *,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    alpha: float = 0.5,
    reg: float = 0.05,
    cross_cost: np.ndarray | None = None,
    metric: str = "sqeuclidean",
    max_iter: int = 200,
) -> np.ndarray:
    """Entropic fused Gromov-Wasserstein plan.

    The structure term compares pairwise distances *inside* each cloud, so ``xs`` and ``xt`` may
    live in different spaces (even of different dimension). ``cross_cost`` (``(n, m)``, in a space
    both share) is fused in with weight ``1 - alpha``; without it the plan is pure GW.

    Args:
        xs: Shapes: ``(n, d_s)``. xt: ``(m, d_t)``.
        alpha: weight of the structure term in ``[0, 1]``.
        reg: entropic regularisation.

    Returns:
        The plan ``(n, m)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha}: must be within [0, 1]")
    cs = cost_matrix(xs, xs, metric)
    ct = cost_matrix(xt, xt, metric)
    a_, b_ = _weights(a, cs.shape[0]), _weights(b, ct.shape[0])
    if cross_cost is None:
        return np.asarray(
            _quiet(
                ot.gromov.entropic_gromov_wasserstein,
                cs,
                ct,
                a_,
                b_,
                "square_loss",
                epsilon=reg,
                max_iter=max_iter,
            )
        )
    m = np.asarray(cross_cost, dtype=np.float64)
    return np.asarray(
        _quiet(
            ot.gromov.entropic_fused_gromov_wasserstein,
            m,
            cs,
            ct,
            a_,
            b_,
            "square_loss",
            epsilon=reg,
            alpha=alpha,
            max_iter=max_iter,
        )
    )


def barycentric_map(plan: np.ndarray, xt: np.ndarray) -> np.ndarray:
    """Images of the source points in the target cloud.

    Args:
        plan: Shapes: ``(n, m)``. xt: ``(m, d)``.

    Returns:
        ``(n, d)``: row ``i`` is the plan-weighted mean of the target points coupled with source
        point ``i`` (a row with no mass maps to the target's mean).
    """
    mass = plan.sum(axis=1, keepdims=True)
    mean = np.asarray(xt, dtype=np.float64).mean(axis=0, keepdims=True)
    out = plan @ np.asarray(xt, dtype=np.float64) / np.where(mass > 0, mass, 1.0)
    return np.where(mass > 0, out, mean)


def target_log_potential(plan: np.ndarray, cost: np.ndarray, reg: float) -> np.ndarray:
    """The target-side log scaling ``log v`` of an entropic plan ``G = diag(u) exp(-cost/reg)
    diag(v)`` (balanced or unbalanced Sinkhorn), up to an additive constant.

    With it the coupling of a *new* source point is one softmax (:func:`out_of_sample_row`), so a
    plan cached per culture pair serves any query, including tracks added after it was computed.

    Args:
        plan: Shapes: ``(n, m)``, positive. cost: ``(n, m)``, the cost the plan was computed with.
        reg: the regularisation it was computed with.

    Returns:
        ``(m,)``.
    """
    logs = np.log(np.maximum(plan, 1e-300)) + cost / reg
    return logs.mean(axis=0)


def out_of_sample_row(cost_row: np.ndarray, log_v: np.ndarray, reg: float) -> np.ndarray:
    """Coupling of one source point with the target points, normalised to sum 1.

    Args:
        cost_row: Shapes: ``(m,)``, the point's cost to each target point (same scale as the plan).
        log_v: ``(m,)`` from :func:`target_log_potential`.

    Returns:
        ``(m,)`` non-negative, summing to 1 (the plan's row for that point, rescaled).
    """
    z = log_v - cost_row / reg
    z = z - z.max()
    w = np.exp(z)
    return w / w.sum()
