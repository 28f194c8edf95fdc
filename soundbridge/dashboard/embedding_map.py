"""The embedding map's data: every Track's vector in one space, projected to 2-D.

Spaces: the audio factors z_c (content), z_s (style) and z_a (affect) that ``soundbridge audio
export-factors`` stores on Track nodes, and the GNN embedding that ``soundbridge build`` writes.
Each point carries its HRAF region and public function (``"unknown"`` where withheld) so the
front end can colour by either without asking again.

Examples:
    >>> pts = embedding_points("za", [
    ...     {"id": "a", "name": "A", "culture": "Caucasus", "function": "Dance", "vector": [0, 0]},
    ...     {"id": "b", "name": "B", "culture": None, "function": None, "vector": [2, 0]},
    ... ])
    >>> [(p["id"], p["x"], p["culture"], p["function"]) for p in pts["points"]]
    [('a', -1.0, 'Caucasus', 'Dance'), ('b', 1.0, 'unknown', 'unknown')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from soundbridge.dashboard.projection import project_2d

__all__ = ["SPACES", "embedding_points"]

#: Space key → (title, where it comes from, when missing).
SPACES: dict[str, tuple[str, str]] = {
    "zc": (
        "z_c: content (melody, rhythm)",
        "`soundbridge audio export-factors` or `soundbridge build`",
    ),
    "zs": (
        "z_s: style (timbre, texture)",
        "`soundbridge audio export-factors` or `soundbridge build`",
    ),
    "za": ("z_a: affect and function", "`soundbridge audio export-factors` or `soundbridge build`"),
    "gnn": ("GNN embedding", "`soundbridge build` (the recommenders step)"),
}


def embedding_points(space: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Project the rows' vectors (one space) to 2-D.

    Args:
        space: a key of :data:`SPACES`.
        rows: ``{id, name, culture, function, vector}`` as read by
            :data:`soundbridge.dashboard.queries.EMBEDDING_POINTS`; rows whose vector length
            differs from the most common one are left out (a half-written export).

    Returns:
        ``{"space", "title", "dim", "explained": [pc1, pc2], "points": [{id, name, culture,
        function, x, y}], "message"}``; ``message`` says what to run when there are no points.
    """
    title, source = SPACES[space]
    lengths = [len(r["vector"]) for r in rows]
    dim = max(set(lengths), key=lengths.count) if lengths else 0
    kept = [r for r in rows if len(r["vector"]) == dim]
    message = ""
    if not kept:
        message = f"No Track has a {title} vector yet: run {source} first."
    xy, explained = project_2d(
        np.array([r["vector"] for r in kept], dtype=np.float64).reshape(len(kept), dim)
    )
    points = [
        {
            "id": r["id"],
            "name": r["name"] or r["id"],
            "culture": r["culture"] or "unknown",
            "function": r["function"] or "unknown",
            "x": round(float(x), 5),
            "y": round(float(y), 5),
        }
        for r, (x, y) in zip(kept, xy, strict=True)
    ]
    return {
        "space": space,
        "title": title,
        "dim": dim,
        "explained": [float(e) for e in explained],
        "points": points,
        "message": message,
    }
