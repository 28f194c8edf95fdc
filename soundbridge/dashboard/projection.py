"""The embedding map's projection: PCA to two dimensions with numpy's SVD.

PCA rather than t-SNE or UMAP because it is deterministic, needs no extra dependency, and its axes
mean something (the directions of largest variance), so two maps of the same space agree.

Examples:
    >>> import numpy as np
    >>> X = np.array([[0.0, 0], [1, 1], [2, 2], [3, 3]])  # a line: one component says it all
    >>> xy, explained = project_2d(X)
    >>> np.round(xy[:, 0], 2).tolist(), np.round(explained, 2).tolist()
    ([-2.12, -0.71, 0.71, 2.12], [1.0, 0.0])
"""

from __future__ import annotations

import numpy as np

__all__ = ["project_2d"]


def project_2d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows onto their first two principal components.

    Each component's sign is fixed so that its largest loading is positive (as scikit-learn's
    ``svd_flip`` does), so the same data always gives the same picture.

    Args:
        X: Shapes: ``(n, d)``, one row per point.

    Returns:
        ``(coords, explained)``: Shapes: ``(n, 2)`` coordinates (zeros in a missing second
        dimension when ``d`` or ``n`` is too small) and ``(2,)`` the share of the variance each
        component explains.
    """
    X = np.asarray(X, dtype=np.float64)
    coords = np.zeros((len(X), 2))
    explained = np.zeros(2)
    if len(X) == 0 or X.ndim != 2 or X.shape[1] == 0:
        return coords, explained
    centred = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    m = min(2, len(s))
    signs = np.sign(vt[np.arange(m), np.abs(vt[:m]).argmax(axis=1)])
    signs[signs == 0] = 1.0
    coords[:, :m] = u[:, :m] * s[:m] * signs
    total = float((s**2).sum())
    if total > 0:
        explained[:m] = s[:m] ** 2 / total
    return coords, explained
