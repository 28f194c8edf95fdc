"""The cross-cultural search and alignment views' data, from the served recommender.

Both views ask :func:`recsys.similar.served_catalogue` for the recommender fitted on the graph's
current catalogue (refitted when the graph changed), so they show exactly what
``recommend_similar`` answers elsewhere. The functions here turn its answers into JSON-ready
dicts; the HTTP layer (:mod:`soundbridge.dashboard.app`) maps the library's errors to statuses
with :func:`error_status`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from loaders.errors import SoundbridgeError
from recsys.catalogue import EmptyCatalogueError, UnknownTrackError
from recsys.cultures import ResolvedCulture
from recsys.similar import CrossCulturalRecommender, EmptyCultureError

__all__ = [
    "ALIGNMENTS",
    "PLAN_METHODS",
    "alignment_plan",
    "error_status",
    "recommendations",
    "resolved_culture",
]

#: The search's alignment choices, the default first.
ALIGNMENTS = ("unbalanced", "sinkhorn", "fgw", "none")
#: Plans the alignment view can draw (fgw is drawn with its balanced plan, as the aligner does).
PLAN_METHODS = ("unbalanced", "sinkhorn", "fgw")

#: ``(track id, audio path relative to the data root) -> URL or None``.
AudioUrl = Callable[[str, str], str | None]


def error_status(e: SoundbridgeError) -> int:
    """The HTTP status for a library error: 404 unknown track, 503 no catalogue, else 422."""
    if isinstance(e, UnknownTrackError):
        return 404
    if isinstance(e, EmptyCatalogueError):
        return 503
    return 422  # UnknownCultureError, EmptyCultureError: the request names a bad culture


def _culture(r: ResolvedCulture) -> dict[str, Any]:
    return {"ids": list(r.ids), "name": r.name, "level": r.level, "via": r.via, "note": r.note}


def resolved_culture(model: CrossCulturalRecommender, text: str) -> dict[str, Any]:
    """What ``text`` names in the recommender's Culture tree.

    Raises:
        UnknownCultureError: with the closest names as ``suggestions``.
    """
    return _culture(model.catalogue_.tree.resolve(text))


def _track(model: CrossCulturalRecommender, row: int, audio_url: AudioUrl) -> dict[str, Any]:
    cat = model.catalogue_
    society = str(cat.cultures[row])
    guess, p, source = model.query_function(row)
    tid = str(cat.track_ids[row])
    return {
        "track_id": tid,
        "title": str(cat.names[row]),
        "culture": society,
        "culture_name": cat.tree.name.get(society, society),
        "function": str(cat.functions[row]) or None,
        "predicted_function": None if source == "label" else {"name": guess, "p": p},
        "audio_url": audio_url(tid, str(cat.audio[row]) if cat.audio is not None else ""),
    }


def recommendations(
    model: CrossCulturalRecommender,
    track: str,
    culture: str,
    k: int,
    alignment: str,
    audio_url: AudioUrl,
) -> dict[str, Any]:
    """Songs like ``track`` from ``culture``, with the query's own card.

    Returns:
        ``{"query": track card, "target": resolved culture, "alignment", "results": [
        Recommendation.to_dict() + audio_url]}``.

    Raises:
        UnknownTrackError, UnknownCultureError, EmptyCultureError (from the recommender).
    """
    q = model.catalogue_.index(track)
    target = model.catalogue_.tree.resolve(culture)
    results = model.recommend_similar(track, target, k, alignment=alignment)
    out = []
    for r in results:
        d = r.to_dict()
        d["audio_url"] = audio_url(r.track_id, r.audio)
        out.append(d)
    return {
        "query": _track(model, q, audio_url),
        "target": _culture(target),
        "alignment": alignment,
        "results": out,
    }


def alignment_plan(
    model: CrossCulturalRecommender,
    source: str,
    target: str,
    method: str = "unbalanced",
    top: int = 15,
) -> dict[str, Any]:
    """The transport plan between two cultures' songs, and its most strongly coupled pairs.

    The plan is the one the recommender itself uses (same aligner, same culture keys, so the
    cache is shared): rows are the source culture's anchor tracks, columns the target's.

    Returns:
        ``{"source", "target": resolved cultures, "method", "rows", "cols": [track cards without
        audio], "plan": (n, m) nested lists, "total": plan mass, "pairs": [{"source", "target":
        row/column index, "mass", "share"}] strongest first, "same_function": share of the
        plan's mass on pairs whose (public or predicted) functions agree}``.

    Raises:
        UnknownCultureError, EmptyCultureError.
    """
    tree = model.catalogue_.tree
    src, tgt = tree.resolve(source), tree.resolve(target)
    src_rows, tgt_rows = model.rows(src.ids), model.rows(tgt.ids)
    for c, members in ((src, src_rows), (tgt, tgt_rows)):
        if len(members) == 0:
            raise EmptyCultureError(
                f"culture {c.name!r} ({', '.join(c.ids)}) has no track with audio factors; "
                "choose a larger culture (its region or world region)"
            )
    s, t, plan = model.aligner(method).plan(
        "+".join(sorted(src.ids)), src_rows, "+".join(sorted(tgt.ids)), tgt_rows
    )
    plan = np.asarray(plan, dtype=np.float64)
    total = float(plan.sum())
    n = min(top, plan.size)
    flat = np.argsort(-plan, axis=None, kind="stable")[:n]
    pairs = [
        {
            "source": int(i),
            "target": int(j),
            "mass": float(plan[i, j]),
            "share": float(plan[i, j] / total) if total > 0 else 0.0,
        }
        for i, j in zip(*np.unravel_index(flat, plan.shape), strict=True)
    ]

    def no_audio(tid: str, path: str) -> None:
        return None

    rows = [_track(model, int(r), no_audio) for r in s]
    cols = [_track(model, int(c), no_audio) for c in t]
    fn_rows = [r["function"] or (r["predicted_function"] or {}).get("name") for r in rows]
    fn_cols = [c["function"] or (c["predicted_function"] or {}).get("name") for c in cols]
    same = np.equal.outer(np.array(fn_rows, dtype=object), np.array(fn_cols, dtype=object))
    return {
        "source": _culture(src),
        "target": _culture(tgt),
        "method": method,
        "rows": rows,
        "cols": cols,
        "plan": plan.tolist(),
        "total": total,
        "pairs": pairs,
        "same_function": float(plan[same].sum() / total) if total > 0 else 0.0,
    }
