"""Song–song similarity edges: each Track's nearest tracks by each audio factor, in the graph.

Analysts ask Cypher "which songs sound like this one" through three relationship types, one per
factor stored on the Track nodes (:func:`audio.graph.store_factors`, :func:`audio.graph.add_track`):

============================  ======  ====================================================
type                          factor  what "near" means
============================  ======  ====================================================
``SIMILAR_CONTENT``           ``zc``  what is played: melody, rhythm
``SIMILAR_STYLE``             ``zs``  how and where it sounds: instrument, recording, culture
``SIMILAR_AFFECT``            ``za``  what it is for: function, affect
============================  ======  ====================================================

Each edge goes from a track to one of its ``k`` nearest tracks by cosine similarity of that
factor (itself excluded), with ``score`` (the cosine, in [-1, 1]) and ``rank`` (1 = nearest; equal
scores rank the smaller id first). A track has ``min(k, n - 1)`` out-edges of a type, ``n`` being
the tracks it can be compared with: those whose factor is set, finite, not all zero, and of the
same length (a factor of another length, left by another model, is compared only with its own
kind). Tracks without the factor have no edges of that type, in or out. The names are distinct
from Cantometrics' ``STYLE_SIMILAR`` between societies.

:func:`write_similarity_edges` recomputes them all (the build calls it once the factors are
stored); :func:`refresh_track_similarity` brings one new or changed track's neighbourhood up to
date (:func:`audio.graph.add_track` calls it). The driver is passed in; statements live in
:mod:`audio.queries`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import neo4j
import numpy as np

from audio import queries

__all__ = [
    "DEFAULT_K",
    "SIMILARITY_FACTORS",
    "cosine_top_k",
    "write_similarity_edges",
    "refresh_track_similarity",
]

#: Neighbours per track and factor: ten is a screenful of "more like this", and 3 × 10 edges per
#: track keep the 1,007 recordings' edges (~30,000) small beside the graph's ~570,000.
DEFAULT_K = 10

#: Relationship type → the Track property holding its factor.
SIMILARITY_FACTORS: dict[str, str] = {
    "SIMILAR_CONTENT": "zc",
    "SIMILAR_STYLE": "zs",
    "SIMILAR_AFFECT": "za",
}
assert tuple(SIMILARITY_FACTORS) == queries.SIMILARITY_TYPES

#: Source tracks per write transaction (k edges each).
_BATCH = 250
#: A track whose k-th neighbour scores within this of the refreshed track's score is recomputed:
#: the stored score and the one computed now may differ in the last bits.
_MARGIN = 1e-9


@dataclass(frozen=True)
class _Pool:
    """Tracks whose factor can be compared: ids sorted, factors scaled to unit length.

    Shapes:
        unit: ``(len(ids), dim)``.
    """

    ids: list[str]
    unit: np.ndarray
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.ids)})


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r}: the number of similar tracks per track must be an integer >= 1")


def _read_factors(driver: neo4j.Driver) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(queries.TRACK_FACTORS, routing_=neo4j.RoutingControl.READ)
    return [r.data() for r in records]


def _pools(records: Iterable[dict[str, Any]], prop: str) -> list[_Pool]:
    """The comparable tracks for factor ``prop``, one pool per factor length."""
    by_dim: dict[int, list[tuple[str, np.ndarray]]] = {}
    for rec in records:
        value = rec[prop]
        if not value:
            continue
        x = np.asarray(value, dtype=np.float64)
        norm = float(np.linalg.norm(x))
        if x.ndim != 1 or not np.isfinite(norm) or norm == 0.0:
            continue  # no direction, so no cosine
        by_dim.setdefault(x.size, []).append((str(rec["id"]), x / norm))
    pools = []
    for dim in sorted(by_dim):
        rows = sorted(by_dim[dim], key=lambda r: r[0])
        pools.append(_Pool([r[0] for r in rows], np.stack([r[1] for r in rows])))
    return pools


def cosine_top_k(
    unit: np.ndarray, k: int, rows: Sequence[int] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of each query row by cosine, itself excluded.

    Equal scores rank the lower index first. Each query row's scores are one matrix-vector
    product, so a row gets the same scores and order whichever other rows are asked with it
    (:func:`refresh_track_similarity` relies on that to match :func:`write_similarity_edges`).

    Args:
        unit: the rows, each of unit length.
        k: neighbours per row; at most ``n - 1`` are returned.
        rows: indices of the query rows (``None``: all).

    Shapes:
        ``unit: (n, d)``, ``rows: (m,)``; returns ``indices: (m, min(k, n - 1))`` (int64) and
        ``scores: (m, min(k, n - 1))`` (float64, nearest first).

    Examples:
        >>> unit = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
        >>> idx, score = cosine_top_k(unit, 2)
        >>> idx.tolist()
        [[1, 2], [0, 2], [1, 0], [2, 1]]
        >>> score[0].round(2).tolist()
        [0.8, 0.0]
    """
    n = unit.shape[0]
    query = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    kk = max(0, min(k, n - 1))
    indices = np.empty((len(query), kk), dtype=np.int64)
    scores = np.empty((len(query), kk), dtype=np.float64)
    if kk == 0:
        return indices, scores
    for out, i in enumerate(query):
        s = np.clip(unit @ unit[i], -1.0, 1.0)
        s[i] = -np.inf
        kth = np.partition(s, n - kk)[n - kk]  # the k-th largest score
        cand = np.flatnonzero(s >= kth)  # the top k, and any ties of the k-th
        order = np.lexsort((cand, -s[cand]))[:kk]
        indices[out] = cand[order]
        scores[out] = s[cand[order]]
    return indices, scores


def _neighbour_rows(pool: _Pool, rows: Sequence[int], k: int) -> list[dict[str, Any]]:
    """``WRITE_SIMILAR`` rows (``{id, targets, scores}``) for these rows of the pool."""
    idx, score = cosine_top_k(pool.unit, k, rows)
    return [
        {
            "id": pool.ids[i],
            "targets": [pool.ids[j] for j in idx[r]],
            "scores": [float(x) for x in score[r]],
        }
        for r, i in enumerate(rows)
    ]


def _write(driver: neo4j.Driver, rel_type: str, rows: list[dict[str, Any]]) -> int:
    written = 0
    for s in range(0, len(rows), _BATCH):
        records, _, _ = driver.execute_query(
            queries.WRITE_SIMILAR[rel_type], rows=rows[s : s + _BATCH]
        )
        written += int(records[0]["written"]) if records else 0
    return written


def _count(driver: neo4j.Driver, rel_type: str) -> int:
    records, _, _ = driver.execute_query(
        queries.COUNT_SIMILAR[rel_type], routing_=neo4j.RoutingControl.READ
    )
    return int(records[0]["n"])


def write_similarity_edges(
    driver: neo4j.Driver, *, k: int = DEFAULT_K, log: Callable[[str], None] = lambda m: None
) -> dict[str, int]:
    """Recompute every ``SIMILAR_CONTENT``, ``SIMILAR_STYLE`` and ``SIMILAR_AFFECT`` edge.

    Reads the factors of every Track, finds each track's ``k`` nearest by cosine per factor
    (numpy), and writes each track's complete neighbour list in batched transactions: edges
    that are no longer among a track's ``k`` nearest are deleted, as are all edges of tracks
    whose factor vanished. Idempotent: a second run leaves the same edges with the same
    properties. Call it after the factors are stored (:func:`audio.graph.store_factors`).

    Args:
        driver: an open driver (built by :func:`kg.connection.connect`).
        k: neighbours per track and factor (:data:`DEFAULT_K`).
        log: receives one line per type (tracks, edges, seconds).

    Returns:
        Relationship type → how many edges of that type the graph holds afterwards.

    Raises:
        ValueError: ``k`` is not an integer >= 1.

    Examples:
        >>> from kg.config import Neo4jSettings  # doctest: +SKIP
        >>> from kg.connection import connect  # doctest: +SKIP
        >>> with connect(Neo4jSettings.from_env()) as driver:  # doctest: +SKIP
        ...     write_similarity_edges(driver, log=print)
        {'SIMILAR_CONTENT': 10070, 'SIMILAR_STYLE': 10070, 'SIMILAR_AFFECT': 10070}
    """
    _check_k(k)
    records = _read_factors(driver)
    counts: dict[str, int] = {}
    for rel_type, prop in SIMILARITY_FACTORS.items():
        start = time.perf_counter()
        pools = _pools(records, prop)
        rows = [r for p in pools for r in _neighbour_rows(p, range(len(p.ids)), k)]
        _write(driver, rel_type, rows)
        keep = [t for p in pools for t in p.ids]
        driver.execute_query(queries.DELETE_SIMILAR_OUTSIDE[rel_type], keep=keep)
        counts[rel_type] = _count(driver, rel_type)
        log(
            f"similarity: {rel_type} by {prop}: {len(keep):,} tracks, "
            f"{counts[rel_type]:,} edges ({time.perf_counter() - start:.1f} s)"
        )
    return counts


def refresh_track_similarity(
    driver: neo4j.Driver, track_id: str, *, k: int = DEFAULT_K
) -> dict[str, int]:
    """Bring the similarity edges around one new, changed or removed track up to date.

    Per type, the neighbour lists rewritten (in full, as :func:`write_similarity_edges` writes
    them) are those of: the track itself; every track that points at it now; every track whose
    ``k``-th neighbour is not nearer than the track (it enters their top ``k``, pushing their
    ``k``-th out); and every track that lacks or exceeds its ``min(k, n - 1)`` edges (the pool
    grew or shrank, or a track was deleted). When the graph held the edges of a full
    recomputation before the track changed, it holds them again afterwards. A track without the
    factor (or absent from the graph) loses its edges of that type, and the tracks that pointed
    at it get their next nearest instead. A graph whose edges were never written gets them all.

    Args:
        driver: an open driver.
        track_id: the Track's id.
        k: neighbours per track, as the graph's edges were written with (:data:`DEFAULT_K`).

    Returns:
        Relationship type → how many edges were written (those of every rewritten list).

    Raises:
        ValueError: ``k`` is not an integer >= 1.

    Examples:
        >>> refresh_track_similarity(driver, "user:0123456789abcdef")  # doctest: +SKIP
        {'SIMILAR_CONTENT': 13, 'SIMILAR_STYLE': 12, 'SIMILAR_AFFECT': 10}
    """
    _check_k(k)
    records = _read_factors(driver)
    written: dict[str, int] = {}
    for rel_type, prop in SIMILARITY_FACTORS.items():
        degree, _, _ = driver.execute_query(
            queries.SIMILAR_DEGREES[rel_type], id=track_id, routing_=neo4j.RoutingControl.READ
        )
        stored = {str(r["id"]): r for r in degree}
        affected = {track_id} | {t for t, r in stored.items() if r["to_track"]}
        pools = _pools(records, prop)
        for p in pools:
            expected = min(k, len(p.ids) - 1)
            affected.update(t for t in p.ids if (stored[t]["n"] if t in stored else 0) != expected)
        home = next((p for p in pools if track_id in p.index), None)
        if home is not None:
            near = home.unit @ home.unit[home.index[track_id]]
            affected.update(
                t
                for j, t in enumerate(home.ids)
                if t in stored and near[j] >= stored[t]["lowest"] - _MARGIN
            )
        rows: list[dict[str, Any]] = []
        for p in pools:
            mine = sorted(p.index[t] for t in affected if t in p.index)
            rows += _neighbour_rows(p, mine, k)
        pooled = {t for p in pools for t in p.index}
        # no factor (any more): an empty list deletes the track's out-edges
        rows += [{"id": t, "targets": [], "scores": []} for t in sorted(affected - pooled)]
        written[rel_type] = _write(driver, rel_type, rows)
    return written
