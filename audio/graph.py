"""Factors in the knowledge graph: stored on Track nodes, and new tracks added cold-start.

The driver is passed in (built by :func:`kg.connection.connect`); statements live in
:mod:`audio.queries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import neo4j
import numpy as np

from audio import queries
from audio.similarity import refresh_track_similarity
from kg.errors import UnknownCultureError

__all__ = [
    "UnknownCultureError",
    "AddedTrack",
    "store_factors",
    "factors_fingerprint",
    "find_culture",
    "add_track",
]


@dataclass(frozen=True)
class AddedTrack:
    """What :func:`add_track` did.

    Attributes:
        id: the track id.
        existed: whether a Track with this id was already in the graph (it was updated).
        replaced: ``(id, name)`` of each culture whose ``FROM_CULTURE`` link was replaced by the
            new one (empty when the track is new or keeps its culture).
    """

    id: str
    existed: bool
    replaced: tuple[tuple[str, str], ...] = ()


def store_factors(
    driver: neo4j.Driver,
    track_ids: Sequence[str],
    zc: np.ndarray,
    zs: np.ndarray,
    za: np.ndarray,
    *,
    batch_size: int = 500,
) -> int:
    """Set ``zc``, ``zs``, ``za`` (lists of floats) on the Track nodes with these ids.

    Args:
        driver: an open driver.
        track_ids: ids of ``Track`` nodes.
        zc: Shapes: ``(n, dim_c)``. zs: ``(n, dim_s)``. za: ``(n, dim_a)``.
        batch_size: rows per transaction.

    Returns:
        How many Track nodes were updated (ids absent from the graph are skipped).
    """
    updated = 0
    for s in range(0, len(track_ids), batch_size):
        rows = [
            {"id": str(t), "zc": zc[i].tolist(), "zs": zs[i].tolist(), "za": za[i].tolist()}
            for i, t in enumerate(track_ids[s : s + batch_size], start=s)
        ]
        records, _, _ = driver.execute_query(queries.SET_TRACK_FACTORS, rows=rows)
        updated += int(records[0]["updated"])
    return updated


def factors_fingerprint(driver: neo4j.Driver) -> str:
    """A SHA-1 over every Track's stored factors (ids sorted): what depends on the factors (the
    GNN's Track inputs, the similarity edges) is stale when it changes."""
    import hashlib

    records, _, _ = driver.execute_query(queries.TRACK_FACTORS, routing_=neo4j.RoutingControl.READ)
    h = hashlib.sha1()
    for r in sorted(records, key=lambda r: str(r["id"])):
        h.update(str(r["id"]).encode())
        for name in ("zc", "zs", "za"):
            h.update(np.asarray(r[name] or [], dtype=np.float64).tobytes() + b"|")
    return h.hexdigest()


def find_culture(driver: neo4j.Driver, culture: str) -> dict[str, str]:
    """The Culture node whose id is ``culture``, or whose name is (case-insensitively).

    Raises:
        UnknownCultureError: when none matches (or several at the same level).
    """
    records, _, _ = driver.execute_query(
        queries.FIND_CULTURE, culture=culture, routing_=neo4j.RoutingControl.READ
    )
    if not records:
        raise UnknownCultureError(
            f"culture {culture!r}: no Culture node has that id or name; list them with "
            '`soundbridge cypher "MATCH (c:Culture) RETURN c.id, c.name, c.level"` and pass an '
            "id such as CCMCcusc1236 or a name such as 'Central Andes' (run `soundbridge ingest` "
            "first if the graph is empty)"
        )
    first = records[0]
    same = [r for r in records if r["level"] == first["level"]]
    if len(same) > 1:
        raise UnknownCultureError(
            f"culture {culture!r}: several {first['level']} nodes match ("
            + ", ".join(r["id"] for r in same)
            + "); pass one of these ids instead"
        )
    return {"id": first["id"], "name": first["name"], "level": first["level"]}


def add_track(
    driver: neo4j.Driver,
    track_id: str,
    *,
    name: str,
    culture_id: str,
    audio: str,
    zc: np.ndarray,
    zs: np.ndarray,
    za: np.ndarray,
) -> AddedTrack:
    """Create (or update) a user Track with its factors, linked ``FROM_CULTURE`` to its culture.

    A track has one culture: adding it again with another culture replaces the link (the
    result's ``replaced`` says which culture it had). Its similarity edges, and those of the
    tracks it now enters or leaves the nearest of, are then brought up to date
    (:func:`audio.similarity.refresh_track_similarity`; factors without a direction, all
    zeros, get none).

    Args:
        driver: an open driver.
        track_id: the Track's id (``user:<digest>`` for ``add-track``).
        name: the Track's name.
        culture_id: the id of an existing Culture node (see :func:`find_culture`).
        audio: where the recording is, as :func:`audio.files.track_audio_path` reads it
            (``""``: none).
        zc, zs, za: the factors.

    Shapes: ``zc: (dim_c,)``, ``zs: (dim_s,)``, ``za: (dim_a,)``.

    Returns:
        An :class:`AddedTrack`.

    Raises:
        UnknownCultureError: the culture is not (any longer) in the graph; nothing was written.
    """
    records, _, _ = driver.execute_query(
        queries.ADD_TRACK,
        id=track_id,
        name=name,
        culture_id=culture_id,
        audio=audio,
        zc=zc.tolist(),
        zs=zs.tolist(),
        za=za.tolist(),
    )
    if not records:
        raise UnknownCultureError(f"culture {culture_id!r} vanished from the graph; run it again")
    rec = records[0]
    refresh_track_similarity(driver, track_id)
    return AddedTrack(
        id=str(rec["id"]),
        existed=bool(rec["existed"]),
        replaced=tuple((str(p["id"]), str(p["name"])) for p in rec["replaced"]),
    )
