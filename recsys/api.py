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

import neo4j
import numpy as np
import pandas as pd
import scipy.sparse as sp

import recsys.blend
import recsys.ease
import recsys.gnn
import recsys.itemknn
import recsys.lightgcn
import recsys.mf
import recsys.mostpop  # noqa: F401  (registers every model class for Recommender.load)
from loaders.errors import ConfigError, SoundbridgeError
from recsys.base import Recommender
from recsys.embedding import unit_rows
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
    model.use_history(plays)
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
    target_culture: str | None = None,
    artefacts: str | os.PathLike[str] | None = None,
    driver: neo4j.Driver | None = None,
) -> list[dict]:
    """The ``k`` artists to recommend to a Last.fm user, best first.

    With ``target_culture`` (a name, id or alias of the Culture tree), the user's listening
    history — a distribution over artists weighted by play counts — is transported (unbalanced
    entropic OT, cost = 1 - cosine of the served model's artist embeddings) onto the artists linked
    to that culture (``FROM_CULTURE`` with at least 3 tag uses, at or below it); artists are
    ranked by the mass they receive. This reads the culture links from Neo4j (``driver``;
    default: one from the environment).

    Returns:
        ``[{"id": artist_id, "name": ..., "score": ...}, ...]``.

    Raises:
        UnknownIdError: for a user id absent from ``user_artists.dat``.
        UnknownCultureError: for a culture name that resolves to nothing.

    Examples:
        >>> recommend_for_user(2, k=3)[0].keys()  # doctest: +SKIP
        dict_keys(['id', 'name', 'score'])
    """
    s = served(_folder(artefacts))
    if target_culture is not None:
        return _recommend_in_culture(s, user_id, k, exclude_seen, target_culture, driver)
    ids, scores = s.model.recommend([s.user(user_id)], k, exclude_seen=exclude_seen)
    return s.rows(ids[0], scores[0], s.item_ids)


def _recommend_in_culture(
    s: Served,
    user_id: int,
    k: int,
    exclude_seen: bool,
    target_culture: str,
    driver: neo4j.Driver | None,
) -> list[dict]:
    from recsys import queries
    from recsys.catalogue import read_culture_tree
    from recsys.ot import unbalanced_plan

    if driver is None:
        from recsys.similar import _default_driver

        driver = _default_driver()
    read = neo4j.RoutingControl.READ
    tree = read_culture_tree(driver)
    members = tree.societies_of(tree.resolve(target_culture).ids)
    found, _, _ = driver.execute_query(
        queries.ARTISTS_OF_CULTURES, ids=sorted(members), min_count=3, routing_=read
    )
    wanted = np.array(sorted(int(r["artist"]) for r in found if isinstance(r["artist"], int)))
    pos = np.searchsorted(s.item_ids, wanted)
    ok = (pos < len(s.item_ids)) & (s.item_ids[np.minimum(pos, len(s.item_ids) - 1)] == wanted)
    candidates = pos[ok]
    u = s.user(user_id)
    history = s.plays[u].indices
    if exclude_seen:
        candidates = np.setdiff1d(candidates, history)
    if len(candidates) == 0 or len(history) == 0:
        return []
    weights = s.plays[u].data.astype(np.float64)
    vectors = _item_vectors(s.model)
    hv, cv = unit_rows(vectors[history]), unit_rows(vectors[candidates])
    plan = unbalanced_plan(hv, cv, a=weights, cost=1.0 - hv @ cv.T, reg=0.05, reg_m=1.0)
    mass = plan.sum(axis=0)
    order = np.lexsort((s.item_ids[candidates], -mass))[:k]
    return s.rows(candidates[order], mass[order] / max(mass.sum(), 1e-300), s.item_ids)


def _item_vectors(model: Recommender) -> np.ndarray:
    factors = getattr(model, "item_factors_", None)
    if factors is not None:
        return np.asarray(factors, dtype=np.float64)
    return np.asarray(model._item_similarity(np.arange(model.num_items)), dtype=np.float64)


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
    """Write the top ``k`` artists of every user (already-listened excluded).

    Columns: ``user_id``, ``rank`` (1..k), ``artist_id``, ``score``; CSV when ``path`` ends in
    ``.csv``, Parquet otherwise.
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
    if Path(path).suffix.lower() == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return df
