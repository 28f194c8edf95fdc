"""NetEase-style directed co-collection weights.

For items *i* and *j* collected (listened to, saved) by user sets U_i and U_j the weight of the
directed edge i → j is ``|U_i ∩ U_j| / |U_i|``: the share of *i*'s audience that also collected *j*.
It is asymmetric on purpose — a niche artist whose few listeners all play a star points strongly to
the star, not the other way round.

The full matrix is dense in popular items, so the graph keeps it sparse: for every source item the
``top_k`` targets by weight (ties broken by the larger co-count, then the smaller target id), and
only pairs with at least ``min_common`` shared users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "BLOCK_ENTRIES",
    "DEFAULT_MIN_COMMON",
    "DEFAULT_TOP_K",
    "co_collection_blocks",
    "co_collection_weights",
]

#: Neighbours kept per source item (documented in docs/schema.md).
DEFAULT_TOP_K = 20
#: Shared users a pair needs to be kept at all.
DEFAULT_MIN_COMMON = 1
#: Entries of the product matrix one block of :func:`co_collection_blocks` may hold (~200 MB).
BLOCK_ENTRIES = 20_000_000


def co_collection_weights(
    pairs: pd.DataFrame,
    *,
    user: str = "user_id",
    item: str = "item_id",
    top_k: int = DEFAULT_TOP_K,
    min_common: int = DEFAULT_MIN_COMMON,
) -> pd.DataFrame:
    """Directed co-collection edges from (user, item) collection pairs.

    Args:
        pairs: one row per collection; duplicates are counted once. Shapes: ``(num_pairs, 2+)``.
        user: the user column.
        item: the item column.
        top_k: how many targets to keep per source item.
        min_common: minimum ``|U_i ∩ U_j|`` for a pair to be kept.

    Returns:
        ``src``, ``dst`` (item ids), ``weight`` (float64 in (0, 1]) and ``common`` (int64, the
        shared-user count), sorted by ``src`` then descending ``weight``.

    Examples:
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": ["a", "b", "a", "b", "a"]})
        >>> co_collection_weights(df).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
        [{'src': 'a', 'dst': 'b', 'weight': 0.666..., 'common': 2},
         {'src': 'b', 'dst': 'a', 'weight': 1.0, 'common': 2}]
    """
    unique = pairs[[user, item]].drop_duplicates()
    items, i_idx = np.unique(unique[item].to_numpy(), return_inverse=True)
    blocks = list(
        co_collection_blocks(
            unique[user].to_numpy(), i_idx, len(items), top_k=top_k, min_common=min_common
        )
    )
    src, dst, weight, common = (
        np.concatenate([b[k] for b in blocks]) if blocks else np.zeros(0, dtype=np.int64)
        for k in range(4)
    )
    return pd.DataFrame(
        {
            "src": items[src],
            "dst": items[dst],
            "weight": weight.astype(np.float64),
            "common": common,
        }
    )


def co_collection_blocks(
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    *,
    top_k: int = DEFAULT_TOP_K,
    min_common: int = DEFAULT_MIN_COMMON,
    max_entries: int = BLOCK_ENTRIES,
    progress: Callable[[int], Any] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Directed co-collection edges, a block of source items at a time.

    The edges of :func:`co_collection_weights` (weight ``|U_i ∩ U_j| /
    |U_i|``, per source the ``top_k`` targets by shared users, ties to the smaller item number,
    pairs with fewer than ``min_common`` shared users left out), with memory bounded by
    ``max_entries`` entries of the item × item product per block (one item's row may exceed it).

    Args:
        users: the user of each (user, item) pair; duplicates count once. Shapes: ``(pairs,)``.
        items: the item number of each pair, in ``[0, n_items)``. Shapes: ``(pairs,)``.
        n_items: how many item numbers there are.
        top_k, min_common: as in :func:`co_collection_weights`.
        max_entries: the product entries a block may hold.
        progress: called with the number of source items each block covered.

    Yields:
        ``src``, ``dst`` (item numbers, int64), ``weight`` (float64), ``common`` (int64), sorted
        by ``src`` then descending ``common``. Shapes: ``(edges_in_block,)`` each.

    Examples:
        >>> users = np.array([1, 1, 2, 2, 3])
        >>> items = np.array([0, 1, 0, 1, 0])
        >>> [a.tolist() for a in next(co_collection_blocks(users, items, 2))]
        [[0, 1], [1, 0], [0.6666666666666666, 1.0], [2, 2]]
    """
    if top_k < 1 or min_common < 1:
        raise ValueError("top_k and min_common must be at least 1")
    _, u_idx = np.unique(users, return_inverse=True)
    n_users = int(u_idx.max()) + 1 if len(u_idx) else 0
    x = sp.csr_matrix(
        (np.ones(len(items), dtype=np.int32), (items, u_idx)), shape=(n_items, n_users)
    )
    x.sum_duplicates()
    x.data[:] = 1
    xt = x.T.tocsr()
    degree = np.diff(x.indptr)
    # Entries row i of the product can have: the sum of its users' item counts.
    work = x @ np.diff(xt.indptr).astype(np.int64)
    start = 0
    ends = np.cumsum(work)
    while start < n_items:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + max_entries, side="right"))
        stop = min(n_items, max(stop, start + 1))
        block = (x[start:stop] @ xt).tocsr()
        rows = np.repeat(np.arange(start, stop), np.diff(block.indptr))
        cols = block.indices.astype(np.int64)
        counts = block.data.astype(np.int64)
        keep = (cols != rows) & (counts >= min_common)
        rows, cols, counts = rows[keep], cols[keep], counts[keep]
        order = np.lexsort((cols, -counts, rows))
        rows, cols, counts = rows[order], cols[order], counts[order]
        first = np.searchsorted(rows, rows, side="left")
        top = np.arange(len(rows)) - first < top_k
        rows, cols, counts = rows[top], cols[top], counts[top]
        yield rows, cols, counts / degree[rows], counts
        if progress is not None:
            progress(stop - start)
        start = stop
