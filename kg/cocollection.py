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

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["DEFAULT_MIN_COMMON", "DEFAULT_TOP_K", "co_collection_weights"]

#: Neighbours kept per source item (documented in docs/schema.md).
DEFAULT_TOP_K = 20
#: Shared users a pair needs to be kept at all.
DEFAULT_MIN_COMMON = 1


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
    if top_k < 1 or min_common < 1:
        raise ValueError("top_k and min_common must be at least 1")
    unique = pairs[[user, item]].drop_duplicates()
    users, u_idx = np.unique(unique[user].to_numpy(), return_inverse=True)
    items, i_idx = np.unique(unique[item].to_numpy(), return_inverse=True)
    x = sp.csr_matrix(
        (np.ones(len(unique), dtype=np.float32), (i_idx, u_idx)), shape=(len(items), len(users))
    )
    common = (x @ x.T).tocsr()  # (num_items, num_items) shared-user counts
    common.setdiag(0)
    common.eliminate_zeros()
    degree = np.asarray(x.sum(axis=1)).ravel()

    src_out: list[np.ndarray] = []
    dst_out: list[np.ndarray] = []
    w_out: list[np.ndarray] = []
    c_out: list[np.ndarray] = []
    for i in range(common.shape[0]):
        start, end = common.indptr[i], common.indptr[i + 1]
        if start == end:
            continue
        cols = common.indices[start:end]
        counts = common.data[start:end]
        keep = counts >= min_common
        cols, counts = cols[keep], counts[keep]
        if cols.size == 0:
            continue
        # weight is counts / degree[i]: ordering by count is ordering by weight; ties → smaller id.
        order = np.lexsort((cols, -counts))[:top_k]
        src_out.append(np.full(order.size, i))
        dst_out.append(cols[order])
        c_out.append(counts[order].astype(np.int64))
        w_out.append(counts[order] / degree[i])
    if not src_out:
        return pd.DataFrame(
            {
                "src": items[:0],
                "dst": items[:0],
                "weight": np.zeros(0),
                "common": np.zeros(0, dtype=np.int64),
            }
        )
    src = np.concatenate(src_out)
    dst = np.concatenate(dst_out)
    return pd.DataFrame(
        {
            "src": items[src],
            "dst": items[dst],
            "weight": np.concatenate(w_out).astype(np.float64),
            "common": np.concatenate(c_out),
        }
    )
