"""The public recommendation API, served from the pipeline's artefacts (no database needed).

:func:`recommend_for_user`, :func:`similar_artists` and :func:`recommend_friends` read the model
and the interactions that :func:`recsys.pipeline.build` saved in
``$SOUNDBRIDGE_HOME/recsys`` (or the ``artefacts`` folder given), once per process.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

import recsys.ease
import recsys.gnn
import recsys.itemknn
import recsys.lightgcn
import recsys.mostpop  # noqa: F401  (registers every model class for Recommender.load)
from loaders.errors import ConfigError, SoundbridgeError
from recsys.base import Recommender
from recsys.pipeline import artefacts_dir, load_interactions

__all__ = [
    "Served",
    "UnknownIdError",
    "export_user_recs",
    "recommend_for_user",
    "recommend_friends",
    "served",
    "similar_artists",
]


class UnknownIdError(SoundbridgeError):
    """A user or artist id that the served model does not know."""


@dataclass(frozen=True, eq=False)
class Served:
    """The served model with the ids and the public interactions it excludes."""

    model: Recommender
    user_ids: np.ndarray
    item_ids: np.ndarray
    plays: sp.csr_matrix
    friends: sp.csr_matrix
    names: dict[int, str]

    def user(self, user_id: int) -> int:
        i = int(np.searchsorted(self.user_ids, user_id))
        if i >= len(self.user_ids) or self.user_ids[i] != user_id:
            raise UnknownIdError(
                f"unknown Last.fm user id {user_id}; known ids are those of user_artists.dat "
                f"({self.user_ids[0]}..{self.user_ids[-1]})"
            )
        return i

    def item(self, artist_id: int) -> int:
        i = int(np.searchsorted(self.item_ids, artist_id))
        if i >= len(self.item_ids) or self.item_ids[i] != artist_id:
            raise UnknownIdError(f"unknown Last.fm artist id {artist_id} (see artists.dat)")
        return i

    def rows(self, ids: np.ndarray, scores: np.ndarray, what: np.ndarray) -> list[dict]:
        keep = np.isfinite(scores)
        out = []
        for i, s in zip(ids[keep], scores[keep], strict=True):
            rid = int(what[i])
            out.append({"id": rid, "name": self.names.get(rid, ""), "score": float(s)})
        return out


@functools.lru_cache(maxsize=4)
def served(artefacts: str | None = None) -> Served:
    """Load the served model and data from ``artefacts`` (default: :func:`artefacts_dir`)."""
    folder = artefacts_dir(artefacts)
    if not (folder / "model.npz").exists():
        raise ConfigError(
            f"no recommender in {folder}: run `soundbridge build` (or recsys.pipeline.build) "
            f"first, or point SOUNDBRIDGE_HOME at the folder that holds recsys/"
        )
    user_ids, item_ids, plays, friends = load_interactions(folder / "interactions.npz")
    model = Recommender.load(folder / "model.npz")
    # the served model was fitted on the training split; exclude every public play when serving
    model.interactions_ = plays
    names_df = pd.read_parquet(folder / "artists.parquet")
    names = dict(zip(names_df["artist_id"].astype(int), names_df["name"].astype(str), strict=True))
    return Served(model, user_ids, item_ids, plays, friends, names)


def _folder(artefacts: str | os.PathLike[str] | None) -> str | None:
    return None if artefacts is None else str(artefacts)


def recommend_for_user(
    user_id: int,
    k: int = 10,
    exclude_seen: bool = True,
    *,
    artefacts: str | os.PathLike[str] | None = None,
) -> list[dict]:
    """The ``k`` artists to recommend to a Last.fm user, best first.

    Returns:
        ``[{"id": artist_id, "name": ..., "score": ...}, ...]``.

    Raises:
        UnknownIdError: for a user id absent from ``user_artists.dat``.

    Examples:
        >>> recommend_for_user(2, k=3)[0].keys()  # doctest: +SKIP
        dict_keys(['id', 'name', 'score'])
    """
    s = served(_folder(artefacts))
    ids, scores = s.model.recommend([s.user(user_id)], k, exclude_seen=exclude_seen)
    return s.rows(ids[0], scores[0], s.item_ids)


def similar_artists(
    artist_id: int, k: int = 10, *, artefacts: str | os.PathLike[str] | None = None
) -> list[dict]:
    """The ``k`` artists closest to one artist in the served model (cosine of embeddings)."""
    s = served(_folder(artefacts))
    ids, scores = s.model.similar_items([s.item(artist_id)], k)
    return s.rows(ids[0], scores[0], s.item_ids)


def recommend_friends(
    user_id: int, k: int = 10, *, artefacts: str | os.PathLike[str] | None = None
) -> list[dict]:
    """The ``k`` users to suggest as friends (current friends excluded), best first."""
    s = served(_folder(artefacts))
    ids, scores = s.model.similar_users([s.user(user_id)], k, exclude=s.friends)
    out = s.rows(ids[0], scores[0], s.user_ids)
    for r in out:
        r.pop("name")
    return out


def export_user_recs(
    path: str | os.PathLike[str],
    k: int = 20,
    *,
    artefacts: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Write the top ``k`` artists of every user to Parquet (already-listened excluded).

    Columns: ``user_id``, ``rank`` (1..k), ``artist_id``, ``score``.
    """
    s = served(_folder(artefacts))
    users = np.arange(len(s.user_ids))
    ids, scores = s.model.recommend(users, k, exclude_seen=True)
    keep = np.isfinite(scores)
    df = pd.DataFrame(
        {
            "user_id": np.repeat(s.user_ids, ids.shape[1])[keep.ravel()],
            "rank": np.tile(np.arange(1, ids.shape[1] + 1), len(users))[keep.ravel()],
            "artist_id": s.item_ids[ids[keep]],
            "score": scores[keep],
        }
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return df
