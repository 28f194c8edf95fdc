"""A seeded validation split carved from the public rows of Last.fm's ``user_artists.dat``.

About 10% of each user's artists are withheld from the public file for blind evaluation; they are
never looked for. What is here is split again: for every user with at least ``min_items`` artists,
``fraction`` of them (rounded, at least one) go to validation, drawn with a seeded generator; users
with fewer artists keep all of theirs for training. Friendships are split the same way, per
undirected pair, so that friend suggestions can be scored on friendships the models never saw.

The catalogue is every artist of ``artists.dat`` (sorted ids, as :class:`kg.export.IdMap` sorts
them) and the users are every Last.fm user, so indices line up with the graph export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loaders.lastfm import LastFM

__all__ = ["Interactions", "inner_split", "split_lastfm", "split_rows"]


@dataclass(frozen=True, eq=False)
class Interactions:
    """Training and validation matrices with the ids behind their rows and columns.

    Attributes:
        user_ids: Last.fm user id of each row. Shapes: ``(num_users,)``.
        item_ids: Last.fm artist id of each column. Shapes: ``(num_items,)``.
        train: play counts kept for training. Shapes: ``(num_users, num_items)`` CSR float32.
        valid: held-out play counts. Shapes: ``(num_users, num_items)`` CSR float32.
        friends_train: friendships kept, both directions. Shapes: ``(num_users, num_users)``.
        friends_valid: held-out friendships, both directions. Same shape.
        seed: the seed that drew the split.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    valid: sp.csr_matrix
    friends_train: sp.csr_matrix
    friends_valid: sp.csr_matrix
    seed: int

    def user_index(self, user_id: int) -> int:
        """Row of a Last.fm user id (raises KeyError naming the id when unknown)."""
        return _position(self.user_ids, user_id, "user")

    def item_index(self, item_id: int) -> int:
        """Column of a Last.fm artist id."""
        return _position(self.item_ids, item_id, "artist")

    @property
    def full(self) -> sp.csr_matrix:
        """Training plus validation: every public interaction (for the served models)."""
        return (self.train + self.valid).tocsr()

    @property
    def friends_full(self) -> sp.csr_matrix:
        """Every public friendship."""
        return (self.friends_train + self.friends_valid).tocsr()


def _position(ids: np.ndarray, value: int, what: str) -> int:
    i = int(np.searchsorted(ids, value))
    if i >= len(ids) or ids[i] != value:
        raise KeyError(f"unknown Last.fm {what} id {value!r}")
    return i


def split_rows(
    groups: np.ndarray, *, fraction: float = 0.1, min_count: int = 10, seed: int = 0
) -> np.ndarray:
    """Mark the rows to hold out: ``round(fraction × n)`` (≥ 1) per group of ≥ ``min_count``.

    Shapes:
        groups: ``(num_rows,)`` group key per row; returns a ``(num_rows,)`` bool mask.

    Examples:
        >>> mask = split_rows(np.array([0] * 10 + [1] * 3), fraction=0.2, seed=1)
        >>> int(mask[:10].sum()), int(mask[10:].sum())
        (2, 0)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    mask = np.zeros(len(groups), dtype=bool)
    for s, e in zip(starts, ends, strict=True):
        n = e - s
        if n < min_count:
            continue
        take = max(1, int(round(fraction * n)))
        mask[order[s + rng.choice(n, size=take, replace=False)]] = True
    return mask


def split_lastfm(
    lastfm: LastFM,
    *,
    fraction: float = 0.1,
    min_items: int = 10,
    friend_fraction: float = 0.1,
    min_friends: int = 5,
    seed: int = 0,
) -> Interactions:
    """Split Last.fm's public plays and friendships into training and validation.

    Args:
        lastfm: the tables of :func:`loaders.lastfm.load_lastfm`.
        fraction: share of each eligible user's artists held out.
        min_items: users with fewer artists are not held out from.
        friend_fraction: share of the eligible friendships held out, drawn as undirected pairs.
        min_friends: a friendship is eligible when both users have at least this many friends.
        seed: the random seed (same seed, same split).

    Examples:
        >>> from loaders.config import data_root
        >>> from loaders.lastfm import load_lastfm
        >>> s = split_lastfm(load_lastfm(data_root() / "lastfm-hetrec2011"))  # doctest: +SKIP
        >>> s.train.nnz + s.valid.nnz  # doctest: +SKIP
        83558
    """
    user_ids = np.sort(lastfm.users["user_id"].to_numpy(dtype=np.int64))
    item_ids = np.sort(lastfm.artists["artist_id"].to_numpy(dtype=np.int64))
    plays = lastfm.plays
    u = np.searchsorted(user_ids, plays["user_id"].to_numpy(dtype=np.int64))
    i = np.searchsorted(item_ids, plays["artist_id"].to_numpy(dtype=np.int64))
    w = plays["weight"].to_numpy(dtype=np.float32)
    held = split_rows(u, fraction=fraction, min_count=min_items, seed=seed)
    shape = (len(user_ids), len(item_ids))
    train = sp.csr_matrix((w[~held], (u[~held], i[~held])), shape=shape, dtype=np.float32)
    valid = sp.csr_matrix((w[held], (u[held], i[held])), shape=shape, dtype=np.float32)

    f = lastfm.friends
    a = np.searchsorted(user_ids, f["user_id"].to_numpy(dtype=np.int64))
    b = np.searchsorted(user_ids, f["friend_id"].to_numpy(dtype=np.int64))
    pairs = pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b)}).drop_duplicates()
    pairs = pairs[pairs.a != pairs.b]
    pa, pb = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    degree = np.bincount(np.r_[pa, pb], minlength=len(user_ids))
    # a pair is eligible when both ends keep enough friends to be scored on the rest
    eligible = (degree[pa] >= min_friends) & (degree[pb] >= min_friends)
    held_f = np.zeros(len(pa), dtype=bool)
    candidates = np.flatnonzero(eligible)
    rng = np.random.default_rng(seed + 1)
    held_f[
        rng.choice(candidates, size=int(round(friend_fraction * len(candidates))), replace=False)
    ] = True
    n_users = len(user_ids)

    def sym(mask: np.ndarray) -> sp.csr_matrix:
        r = np.r_[pa[mask], pb[mask]]
        c = np.r_[pb[mask], pa[mask]]
        return sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n_users, n_users))

    return Interactions(
        user_ids=user_ids,
        item_ids=item_ids,
        train=train,
        valid=valid,
        friends_train=sym(~held_f),
        friends_valid=sym(held_f),
        seed=seed,
    )


def inner_split(
    interactions: sp.spmatrix, *, fraction: float = 0.1, min_items: int = 10, seed: int = 0
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Carve an inner validation split from training rows, the way :func:`split_lastfm` splits.

    Every choice a model makes (epochs, hyper-parameters, the cold-start offset, blend weights)
    is made on the inner split, so that the report's held-out rows are scored once. Same rows,
    same seed, same split: every model of a build that uses the inner split sees the same one.

    Shapes:
        interactions: ``(num_users, num_items)``; returns ``fit`` and ``check``, the same shape,
        ``fit + check == interactions``.

    Examples:
        >>> x = sp.csr_matrix(np.ones((2, 10), dtype=np.float32))
        >>> fit, check = inner_split(x, seed=3)
        >>> fit.nnz, check.nnz
        (18, 2)
    """
    x = sp.coo_matrix(interactions)
    held = split_rows(x.row, fraction=fraction, min_count=min_items, seed=seed)
    shape = x.shape

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (x.data[mask], (x.row[mask], x.col[mask])), shape=shape, dtype=np.float32
        )

    return part(~held), part(held)
