"""Cantometrics style profiles on society Culture nodes, and ``STYLE_SIMILAR`` between societies.

Cantometrics codes each song on 37 style lines (social organisation of the singers, melody,
rhythm, timbre, vocal delivery…); a society's *profile* is, for every (line, code), the share of its
coded songs that carry the code (:func:`loaders.cantometrics.society_profiles`). CCMC societies and
Cantometrics societies meet through the Glottocode; where several Cantometrics societies share one,
their profiles are averaged weighted by their numbers of coded songs.

``STYLE_SIMILAR`` links each profiled society to its ``top_k`` most similar profiled societies by
cosine similarity of the profile vectors (directed: the neighbour lists are not symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loaders.cantometrics import Cantometrics, society_profiles

__all__ = ["DEFAULT_STYLE_TOP_K", "PREDOMINANT_SHARE", "StyleProfiles", "style_profiles"]

DEFAULT_STYLE_TOP_K = 5
#: A code is listed in ``style_codes`` when at least this share of a society's songs carry it.
PREDOMINANT_SHARE = 0.5


@dataclass(frozen=True)
class StyleProfiles:
    """Style profiles keyed by CCMC society id.

    Attributes:
        keys: the profile's feature names, ``"line_N:CodeName"``, in vector order.
        profiles: one row per profiled society: ``id`` (CCMC society id), ``profile`` (list of
            floats, ``len(keys)``), ``codes`` (predominant code names), ``songs`` (coded songs),
            ``societies`` (the Cantometrics society ids merged into it).
        similar: ``src``, ``dst``, ``score`` (cosine similarity in [0, 1]).
    """

    keys: list[str]
    profiles: pd.DataFrame
    similar: pd.DataFrame


def style_profiles(
    cantometrics: Cantometrics, societies: pd.DataFrame, *, top_k: int = DEFAULT_STYLE_TOP_K
) -> StyleProfiles:
    """Join Cantometrics profiles onto CCMC societies by Glottocode and find similar societies.

    Args:
        cantometrics: the loaded Cantometrics tables.
        societies: CCMC societies (``society_id``, ``glottocode``).
        top_k: neighbours per society for ``STYLE_SIMILAR``.
    """
    prof = society_profiles(cantometrics)
    songs = cantometrics.codings.groupby("society_id").size().rename("songs")
    glotto = cantometrics.societies.set_index("society_id")["glottocode"]
    prof = prof.join(songs, how="inner").join(glotto, how="inner")
    prof = prof[prof["glottocode"].notna()]
    keys = [c for c in prof.columns if c not in ("songs", "glottocode")]

    by_glotto = dict(zip(societies["glottocode"], societies["society_id"], strict=False))
    prof = prof.assign(ccmc=prof["glottocode"].map(by_glotto)).dropna(subset=["ccmc"])

    rows = []
    for ccmc_id, group in prof.groupby("ccmc", sort=True):
        w = group["songs"].to_numpy(dtype=np.float64)
        vec = (group[keys].to_numpy(dtype=np.float64) * w[:, None]).sum(axis=0) / w.sum()
        rows.append(
            {
                "id": str(ccmc_id),
                "profile": vec.round(6).tolist(),
                "codes": [k for k, v in zip(keys, vec, strict=True) if v >= PREDOMINANT_SHARE],
                "songs": int(w.sum()),
                "societies": [int(s) for s in group.index],
            }
        )
    profiles = pd.DataFrame(rows, columns=["id", "profile", "codes", "songs", "societies"])

    if len(profiles) < 2:
        similar = pd.DataFrame({"src": [], "dst": [], "score": []})
        return StyleProfiles(keys=keys, profiles=profiles, similar=similar)
    mat = np.asarray(profiles["profile"].tolist(), dtype=np.float64)  # (societies, len(keys))
    norm = np.linalg.norm(mat, axis=1, keepdims=True)
    unit = mat / np.where(norm == 0, 1.0, norm)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    k = min(top_k, len(profiles) - 1)
    ids = profiles["id"].to_numpy()
    nbrs = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    src = np.repeat(ids, k)
    dst = ids[nbrs.ravel()]
    score = np.take_along_axis(sim, nbrs, axis=1).ravel().round(6)
    similar = pd.DataFrame({"src": src, "dst": dst, "score": score})
    return StyleProfiles(keys=keys, profiles=profiles, similar=similar)
