"""The dashboard's review view: the queue inside an expert's scope, and answers' HTTP statuses.

The routes live in :mod:`soundbridge.dashboard.app`; they call :mod:`kg.expert` for the answers
(who may answer what is checked there, with the signed-in account as the expert) and
:func:`recsys.review.review_queue` for the queue, on the same served recommender as the
cross-cultural views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kg.accounts import Account
from kg.expert import Concept, ExpertError, ExpertNotFoundError, ExpertPermissionError
from loaders.errors import SoundbridgeError
from recsys.review import review_queue
from recsys.similar import CrossCulturalRecommender

__all__ = ["answer_status", "queue_for"]

AudioUrl = Callable[[str, str], str | None]


def answer_status(e: SoundbridgeError) -> int:
    """403 outside the expert's scope or role, 404 for an unknown song, answer or label, else 422.

    Examples:
        >>> answer_status(ExpertPermissionError("outside your scope"))
        403
    """
    if isinstance(e, ExpertPermissionError):
        return 403
    if isinstance(e, ExpertNotFoundError):
        return 404
    return 422 if isinstance(e, ExpertError) else 400


def queue_for(
    model: CrossCulturalRecommender,
    account: Account,
    culture: str | None,
    k: int,
    audio_url: AudioUrl,
    concept: Concept | None = None,
) -> dict[str, Any]:
    """The review queue an expert sees: within ``culture`` when given, and always within their
    scope (an admin's scope is everything). With a ``concept``, the songs that may serve it
    (zero-shot, :mod:`recsys.concepts`) and whose function the model is unsure of come first.

    Raises:
        UnknownCultureError: ``culture`` names nothing (with suggestions).
    """
    rows: np.ndarray | None = None
    if account.role != "admin":
        scoped = [model.rows((c,)) for c in account.scopes]
        rows = np.unique(np.concatenate(scoped)) if scoped else np.zeros(0, np.int64)
    if culture:
        asked = model.rows(model.catalogue_.tree.resolve(culture).ids)
        rows = asked if rows is None else np.intersect1d(rows, asked)
    items = review_queue(model, k=k, culture_rows=rows, concept=concept)
    cat = model.catalogue_
    audio = (
        {str(t): str(a) for t, a in zip(cat.track_ids, cat.audio, strict=True)}
        if (cat.audio is not None)
        else {}
    )
    out = []
    for item in items:
        d = item.to_dict()
        d["audio_url"] = audio_url(item.track_id, audio.get(item.track_id, ""))
        for n in d["nearest_known"]:
            n["audio_url"] = audio_url(n["track_id"], audio.get(n["track_id"], ""))
        out.append(d)
    scope = "everything" if account.role == "admin" else ", ".join(account.scopes) or "nothing"
    return {
        "items": out,
        "scope": scope,
        "concept": concept.to_dict() if concept is not None else None,
    }
