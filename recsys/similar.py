"""Cross-cultural recommendation: "songs like X, but from Andean traditions".

:class:`CrossCulturalRecommender` is fitted on a :class:`~recsys.catalogue.TrackCatalogue`:

1. A :class:`~recsys.functions.FunctionModel` gives every track a distribution over behavioural
   contexts: the known label where there is one (public, or decided by experts' answers:
   docs/experts.md), the audio prediction otherwise (``hide`` masks labels, as the evaluation
   does for its validation societies).
2. Each track gets an *affect/function embedding* ``A = [sqrt(p_function), w * unit(z_a)]``:
   what the song does and how it feels, not how it sounds.
3. A :class:`~recsys.alignment.CultureAligner` transports the query from its own culture (the
   query's ancestor at the target's level of the Culture tree) into the target culture, and the
   barycentric image of the query there is compared with every target track.

Scores: ``(1 - weight) * direct + weight * aligned`` where ``direct = p_q · p_t + affect_weight *
cos(z_a)`` and ``aligned = A_t · image``. ``alignment="none"`` is the unaligned recommender
(``weight`` ignored).

``space="gnn"`` puts the GNN's track embeddings ``G`` (unit rows, written by the recommenders'
build, :mod:`gnn`) in the place of ``A``: each culture's cloud of ``G`` is aligned with the same
OT methods, ``direct = cos(G_q, G_t)`` and ``aligned = G_t · image``. Without embeddings in the
graph it raises :class:`MissingEmbeddingsError` saying how to make them.

The search runs *inside* the target culture (all its tracks, then top-k), so
every result belongs to it and a culture with at least ``k`` tracks always yields ``k`` results —
less the songs an expert cannot-linked with the query; the ones an expert must-linked with it
come first.

The module-level :func:`recommend_similar` serves it from the graph, reloading when the graph
changes (:func:`recsys.catalogue.catalogue_stamp`), so a track added with ``soundbridge
add-track`` is queryable at once: :func:`served_catalogue` fits once however many requests
arrive together, and folds added tracks (:meth:`CrossCulturalRecommender.add_tracks`) and
experts' answers (:meth:`CrossCulturalRecommender.relabel`, then a refit in the background) into
the fitted model instead of refitting it on the request path.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, Self

import neo4j
import numpy as np

from loaders.errors import SoundbridgeError
from recsys.alignment import METHODS, Coupling, CultureAligner
from recsys.base import Estimator, NotFittedError
from recsys.catalogue import (
    ExpertLink,
    TrackCatalogue,
    added_rows,
    answered_rows,
    answers_only,
    catalogue_stamp,
    load_catalogue,
    with_answers,
)
from recsys.cultures import ResolvedCulture
from recsys.embedding import unit_rows
from recsys.functions import FunctionModel, label_distribution

__all__ = [
    "CrossCulturalRecommender",
    "EmptyCultureError",
    "MissingEmbeddingsError",
    "REFIT_INTERVAL_S",
    "Recommendation",
    "SPACES",
    "recommend_similar",
    "served_catalogue",
    "wait_for_refits",
]

ALIGNMENTS = ("none", *METHODS)
#: The spaces a query can be answered in: the affect/function embedding of the audio factors, or
#: the GNN's track embeddings.
SPACES = ("factors", "gnn")

#: How to get GNN track embeddings, for the errors that need them.
GNN_HOW = (
    "run `soundbridge gnn evaluate` (or `soundbridge build`) with the audio factors stored to "
    "train the GNN and write them, or use space='factors'"
)


class EmptyCultureError(SoundbridgeError):
    """The target culture has no track with audio factors."""


class MissingEmbeddingsError(SoundbridgeError):
    """``space="gnn"`` without GNN track embeddings (none in the graph, or none for the query)."""


@dataclass(frozen=True)
class Recommendation:
    """One cross-cultural result.

    Attributes:
        track_id: the recommended Track's id.
        score: higher is better (comparable within one call).
        culture: the id of the track's society.
        culture_name: its name.
        title: the track's name.
        function: its known behavioural context (public, or the experts' combined answer), or
            ``None``.
        explanation: one readable paragraph: an expert's must-link first, shared function or
            affect (and who gave an expert label, when), style distance, a knowledge-graph path
            where one exists.
        details: the same as numbers: ``function_match`` (probability both serve the same
            function), ``function_source`` (``"dataset"``, ``"expert"`` or ``"predicted"``) with
            ``function_experts`` / ``function_date`` for an expert label, ``query_function`` /
            ``query_function_source`` (``"label"`` or ``"predicted"``) / ``query_label_source``
            (``"dataset"``, ``"expert"`` or ``None``), ``affect_similarity`` (z_a cosine),
            ``style_distance`` (z_s distance over the catalogue's median), ``coupling``
            (transport mass on this track's neighbourhood, when aligned), ``path`` (list of steps
            or ``None``), ``expert_link`` (the must-link with the query: ``kind``, ``rationale``,
            ``author``, ``answer_id``; or ``None``), ``space`` (``"factors"`` or ``"gnn"``) and,
            in the GNN space, ``gnn_similarity`` (cosine of the two tracks' GNN embeddings).
        audio: the recording's path relative to the data root (``""`` when none).
    """

    track_id: str
    score: float
    culture: str
    culture_name: str
    title: str
    function: str | None
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)
    audio: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


class CrossCulturalRecommender(Estimator):
    """Recommend tracks of a target culture that do and feel like a query track.

    Args:
        alignment: ``"unbalanced"`` (default), ``"sinkhorn"``, ``"fgw"`` or ``"none"``.
        space: ``"factors"`` (default: the affect/function embedding of the audio factors) or
            ``"gnn"`` (the GNN's track embeddings, ``catalogue.gnn``); a query can ask for the
            other.
        weight: share of the aligned score in ``[0, 1]``.
        affect_weight: weight of the z_a cosine next to the function match.
        affect_scale: weight of ``unit(z_a)`` inside the embedding the aligner transports.
        reg, reg_m, max_points: passed to :class:`~recsys.alignment.CultureAligner`.
        function_model: an unfitted :class:`~recsys.functions.FunctionModel` (default one when
            ``None``).
        seed: random state.
    """

    def __init__(
        self,
        alignment: str = "unbalanced",
        weight: float = 0.1,
        affect_weight: float = 0.05,
        affect_scale: float = 0.5,
        reg: float = 0.05,
        reg_m: float = 1.0,
        max_points: int = 256,
        function_model: FunctionModel | None = None,
        seed: int = 0,
        space: str = "factors",
    ) -> None:
        self.alignment = alignment
        self.weight = weight
        self.affect_weight = affect_weight
        self.affect_scale = affect_scale
        self.reg = reg
        self.reg_m = reg_m
        self.max_points = max_points
        self.function_model = function_model
        self.seed = seed
        self.space = space

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        catalogue: TrackCatalogue,
        hide: np.ndarray | None = None,
        predicted: np.ndarray | None = None,
    ) -> Self:
        """Fit the function model and the embedding on ``catalogue``.

        Args:
            catalogue: the tracks.
            hide: Shapes: ``(n,)`` bool; these tracks' public labels are neither trained on nor
                used as known (they are treated as unlabelled).
            predicted: Shapes: ``(n, F)``, a ready function posterior over
                ``catalogue.function_names``; the function model is then neither fitted nor
                asked (its ``classes_`` are the catalogue's function names).
        """
        if self.alignment not in ALIGNMENTS:
            raise ValueError(f"alignment={self.alignment!r}: choose one of {', '.join(ALIGNMENTS)}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight={self.weight}: must be within [0, 1]")
        _check_space(self.space)
        if self.space == "gnn" and catalogue.gnn is None:
            raise MissingEmbeddingsError(f"no GNN track embeddings in the graph: {GNN_HOW}")
        labels = catalogue.functions.astype(str).copy()
        if hide is not None:
            labels[np.asarray(hide, dtype=bool)] = ""
        fm = self.function_model or FunctionModel(seed=self.seed)
        fm = FunctionModel(**fm.get_params())
        if predicted is None:
            fm.fit(catalogue.factors, labels, catalogue.mir)
            predicted = fm.predict_proba(catalogue.factors, catalogue.mir)
        else:
            fm.classes_ = tuple(catalogue.function_names)
            predicted = np.asarray(predicted, dtype=np.float64)
            if predicted.shape != (len(catalogue), len(fm.classes_)):
                raise ValueError(
                    f"predicted {predicted.shape}: expected one row per track and one column per "
                    f"function of the catalogue ({len(catalogue)}, {len(fm.classes_)})"
                )
        self.catalogue_ = catalogue
        self.labels_ = labels
        self.function_model_ = fm
        self.predicted_ = predicted
        self.distribution_ = label_distribution(labels, fm.classes_, predicted)
        self.za_ = unit_rows(catalogue.za.astype(np.float64))
        self.embedding_ = self._embedding(self.distribution_, self.za_)
        self.gnn_ = None if catalogue.gnn is None else _unit_gnn(catalogue.gnn)
        self.style_median_ = self._style_median(catalogue)
        catalogue.tracks_of(())  # builds the culture codes now, not in the first query
        self.aligners_: dict[str, CultureAligner] = {}
        self.gnn_aligners_: dict[str, CultureAligner] = {}
        self._rows: dict[tuple[str, ...], np.ndarray] = {}
        self._lock = threading.Lock()
        self.provisional_ = False
        return self

    def add_tracks(self, catalogue: TrackCatalogue, predicted: np.ndarray | None = None) -> Self:
        """Refresh the fitted recommender for ``catalogue`` — the fitted catalogue plus new tracks
        without a public function, as ``soundbridge add-track`` makes it — without refitting.

        The result is the state ``fit(catalogue)`` would reach (same arrays, same answers), part by
        part:

        - function model: kept, not retrained. ``fit`` trains it on the labelled tracks only, and
          the new tracks have no label, so a refit would train on the very same rows in the same
          order and learn the same model. The new tracks get their posterior from it, row by row
          as ``fit`` predicts every track.
        - function distribution, unit ``z_a``, transported embedding: one row per track, computed
          for the new tracks and inserted at their place in the id order; other rows are kept.
        - style median (the scale of the explanations' style distance): recomputed from every
          ``z_s`` with ``fit``'s seeded sample, whose draw depends on the number of tracks.
        - transport plans: a cached plan between two cultures that gained no track is kept (see
          :meth:`~recsys.alignment.CultureAligner.refreshed`); one touching a new track's
          society, region or world region is dropped and computed on first use, as after ``fit``
          (the culture's cloud, hence its plan, changed). Rows per culture are looked up afresh.

        Not incremental: a catalogue that differs in anything but added tracks
        (:func:`~recsys.catalogue.added_rows`), or added tracks with a public function (they
        would change the function model's training set). These raise ``ValueError``; refit.

        Attributes are rebound, never written into, so ``copy.copy`` of a model that is
        answering queries can be refreshed while the original keeps answering
        (:func:`served_catalogue` does that).

        Args:
            catalogue: the new catalogue.
            predicted: Shapes: ``(m, F)``, the new tracks' function posterior, required when
                ``fit`` was given ``predicted`` (there is no function model to ask then).

        Raises:
            ValueError: not only unlabelled tracks were added; refit instead.
        """
        self._check()
        new = self._added(catalogue)
        if new is None:
            raise ValueError(
                "add_tracks: the catalogue differs from the fitted one in more than added tracks "
                "without a public function; refit with fit(catalogue)"
            )
        return self._insert(catalogue, new, predicted)

    def _insert(
        self, catalogue: TrackCatalogue, new: np.ndarray, predicted: np.ndarray | None
    ) -> Self:
        """:meth:`add_tracks` once ``new`` (``(m,)`` rows of ``catalogue``) has been checked."""
        keep = np.ones(len(catalogue), dtype=bool)
        keep[new] = False
        old = np.flatnonzero(keep)
        fm = self.function_model_
        if predicted is None and len(new) == 0:
            predicted = np.empty((0, len(fm.classes_)))  # scikit-learn refuses empty input
        elif predicted is None:
            if not hasattr(fm, "factors_"):
                raise ValueError(
                    "add_tracks: fitted with a given posterior and no function model; pass "
                    "predicted for the new tracks"
                )
            mir = catalogue.mir[new] if catalogue.mir is not None else None
            predicted = fm.predict_proba(catalogue.factors[new], mir)
        predicted = np.asarray(predicted, dtype=np.float64)
        if predicted.shape != (len(new), len(fm.classes_)):
            raise ValueError(
                f"predicted {predicted.shape}: expected one row per added track and one column "
                f"per function ({len(new)}, {len(fm.classes_)})"
            )
        labels = catalogue.functions[new].astype(str)
        za = unit_rows(catalogue.za[new].astype(np.float64))
        distribution = label_distribution(labels, fm.classes_, predicted)

        def merged(kept: np.ndarray, added: np.ndarray) -> np.ndarray:
            out = np.empty((len(catalogue), *kept.shape[1:]), dtype=kept.dtype)
            out[old], out[new] = kept, added
            return out

        with self._lock:
            aligners = dict(self.aligners_)
            gnn_aligners = dict(self.gnn_aligners_)
        self.catalogue_ = catalogue
        self.labels_ = merged(self.labels_, labels.astype(self.labels_.dtype))
        self.predicted_ = merged(self.predicted_, predicted)
        self.distribution_ = merged(self.distribution_, distribution)
        self.za_ = merged(self.za_, za)
        self.embedding_ = merged(self.embedding_, self._embedding(distribution, za))
        if self.gnn_ is not None and catalogue.gnn is not None:
            self.gnn_ = merged(self.gnn_, _unit_gnn(catalogue.gnn[new]))
        self.style_median_ = self._style_median(catalogue)
        catalogue.tracks_of(())
        grown = self._cultures_of(new)

        def stale(source: str, target: str) -> bool:
            return bool(grown & {source, *target.split("+")})

        self.aligners_ = {
            method: al.refreshed(self.embedding_, old, stale) for method, al in aligners.items()
        }
        gnn = self.gnn_
        self.gnn_aligners_ = (
            {m: al.refreshed(gnn, old, stale) for m, al in gnn_aligners.items()}
            if gnn is not None
            else {}
        )
        self._rows = {}
        self._lock = threading.Lock()
        return self

    def _added(self, catalogue: TrackCatalogue) -> np.ndarray | None:
        """Rows of the tracks :meth:`add_tracks` can fold in, or ``None`` when a refit is due."""
        new = added_rows(self.catalogue_, catalogue)
        if new is None or catalogue.labelled[new].any():
            return None
        return new

    def relabel(self, catalogue: TrackCatalogue) -> Self:
        """Take in experts' answers — ``catalogue`` is the fitted one with expert labels given,
        replaced or retracted, or links changed — without refitting.

        A song whose function experts now decide gets the same distribution as a song with that
        public label (the label's mass, the rest from the prediction): it counts as known at once,
        in queries, in the embedding and in the explanations; a retracted one falls back to its
        prediction. The function model is *not* retrained — it would learn from the new labels —
        so :attr:`provisional_` turns true when a label changed, and :func:`served_catalogue`
        refits in the background. A concept the model has never seen becomes a class that it
        predicts nowhere (:meth:`~recsys.functions.FunctionModel.widened`); the distribution
        then has one more column, so every transport plan is dropped. Otherwise only the plans
        with a relabelled song among their anchors are.

        Attributes are rebound, never written into (as in :meth:`add_tracks`).

        Raises:
            ValueError: the catalogue differs in more than experts' answers
                (:func:`~recsys.catalogue.answered_rows`); refit.
        """
        self._check()
        rows = answered_rows(self.catalogue_, catalogue)
        if rows is None:
            raise ValueError(
                "relabel: the catalogue differs from the fitted one in more than experts' "
                "answers; refit with fit(catalogue)"
            )
        return self._relabel(catalogue, rows)

    def _relabel(self, catalogue: TrackCatalogue, rows: np.ndarray) -> Self:
        """:meth:`relabel` once ``rows`` (``(m,)``, the songs whose label changed) are known."""
        fm = self.function_model_
        labels = self.labels_.astype(object)  # a new, longer name must not be cut to fit
        labels[rows] = catalogue.functions[rows]
        labels = labels.astype(str)
        classes = tuple(sorted(set(fm.classes_) | {str(f) for f in labels[rows] if f}))
        predicted, distribution = self.predicted_, self.distribution_
        if classes != fm.classes_:
            fm = fm.widened(classes)
            columns = [classes.index(c) for c in self.function_model_.classes_]
            predicted, distribution = (
                _widen(a, columns, len(classes)) for a in (predicted, distribution)
            )
        distribution = distribution.copy() if distribution is self.distribution_ else distribution
        distribution[rows] = label_distribution(labels[rows], classes, predicted[rows])
        with self._lock:
            aligners = dict(self.aligners_)
            gnn_aligners = dict(self.gnn_aligners_)  # labels do not move the GNN embedding
            cached_rows = dict(self._rows)
        if fm is not self.function_model_:
            embedding = self._embedding(distribution, self.za_)
            aligners = {}
        else:
            embedding = self.embedding_.copy()
            embedding[rows] = self._embedding(distribution[rows], self.za_[rows])
            same = np.arange(len(catalogue))
            aligners = {
                m: al.refreshed(embedding, same, _moved_anchors(al, rows))
                for m, al in aligners.items()
            }
        self.catalogue_ = catalogue
        self.labels_ = labels
        self.function_model_ = fm
        self.predicted_ = predicted
        self.distribution_ = distribution
        self.embedding_ = embedding
        catalogue.tracks_of(())
        self.aligners_ = aligners
        self.gnn_aligners_ = gnn_aligners
        self._rows = cached_rows
        self._lock = threading.Lock()
        self.provisional_ = self.provisional_ or len(rows) > 0
        return self

    def _cultures_of(self, rows: np.ndarray) -> set[str]:
        """Every culture (society, region, world region) that holds one of these rows."""
        tree = self.catalogue_.tree
        out: set[str] = set()
        for society in {str(c) for c in self.catalogue_.cultures[rows] if c}:
            c: str | None = society
            while c is not None and c not in out:
                out.add(c)
                c = tree.parent.get(c)
        return out

    def _embedding(self, distribution: np.ndarray, za: np.ndarray) -> np.ndarray:
        return np.hstack([np.sqrt(distribution), self.affect_scale * za])

    def _style_median(self, catalogue: TrackCatalogue) -> float:
        zs = catalogue.zs.astype(np.float64)
        rng = np.random.default_rng(self.seed)
        a, b = rng.integers(0, len(zs), (2, min(20000, len(zs) * 4)))
        return float(np.median(np.linalg.norm(zs[a] - zs[b], axis=1))) or 1.0

    def _check(self) -> None:
        if not hasattr(self, "catalogue_"):
            raise NotFittedError("CrossCulturalRecommender is not fitted; call fit(catalogue)")

    def aligner(self, method: str | None = None, space: str = "factors") -> CultureAligner:
        """The fitted aligner for ``method`` (default: the recommender's) in ``space``.

        Raises:
            MissingEmbeddingsError: ``space="gnn"`` and the catalogue has no GNN embeddings.
        """
        self._check()
        _check_space(space)
        method = method or self.alignment
        if method == "none":
            method = "unbalanced"
        x = self.gnn_matrix() if space == "gnn" else self.embedding_
        with self._lock:
            cache = self.gnn_aligners_ if space == "gnn" else self.aligners_
            al = cache.get(method)
            if al is None:
                al = CultureAligner(
                    method=method,
                    reg=self.reg,
                    reg_m=self.reg_m,
                    max_points=self.max_points,
                    seed=self.seed,
                ).fit(x)
                cache[method] = al
        return al

    def gnn_matrix(self) -> np.ndarray:
        """The unit GNN track embeddings (zero rows for tracks without one).

        Shapes:
            returns ``(n, d)``.

        Raises:
            MissingEmbeddingsError: the catalogue has none.
        """
        self._check()
        if self.gnn_ is None:
            raise MissingEmbeddingsError(f"no GNN track embeddings in the graph: {GNN_HOW}")
        return self.gnn_

    def rows(self, culture_ids: tuple[str, ...]) -> np.ndarray:
        """Catalogue rows of the tracks in these cultures (and below), cached."""
        self._check()
        key = tuple(sorted(culture_ids))
        hit = self._rows.get(key)
        if hit is None:
            hit = self.catalogue_.tracks_of(key)
            with self._lock:
                self._rows[key] = hit
        return hit

    def source_culture(self, row: int, level: str) -> tuple[str, np.ndarray]:
        """The query's own culture at ``level`` (key, rows); the track alone when unlinked."""
        society = str(self.catalogue_.cultures[row])
        culture = self.catalogue_.tree.ancestor(society, level) if society else None
        if culture is None:
            culture = society or None
        if culture is None:
            return f"track:{self.catalogue_.track_ids[row]}", np.array([row])
        return culture, self.rows((culture,))

    # ------------------------------------------------------------------ querying
    def recommend_similar(
        self,
        track: str,
        target_culture: str | ResolvedCulture,
        k: int = 10,
        *,
        alignment: str | None = None,
        weight: float | None = None,
        explain: bool = True,
        space: str | None = None,
    ) -> list[Recommendation]:
        """Top ``k`` tracks of ``target_culture`` that do and feel like ``track``.

        Args:
            track: a Track id in the catalogue.
            target_culture: a name, id, Glottocode or alias (or an already resolved culture).
            k: how many (exactly ``k`` when the culture has that many tracks, the query and the
                songs an expert cannot-linked with it excluded).
            alignment: override the fitted alignment (``"none"`` for the unaligned recommender).
            weight: override the aligned share.
            explain: build the explanation texts (the evaluation turns it off for speed).
            space: override the fitted space (``"factors"`` or ``"gnn"``).

        Raises:
            UnknownTrackError, UnknownCultureError, EmptyCultureError, MissingEmbeddingsError
            (``space="gnn"`` without embeddings), ValueError (bad ``k``, ``alignment`` or
            ``space``).
        """
        self._check()
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k={k!r}: must be a positive integer")
        cat = self.catalogue_
        q = cat.index(track)
        target = (
            target_culture
            if isinstance(target_culture, ResolvedCulture)
            else cat.tree.resolve(target_culture)
        )
        rows = self.rows(target.ids)
        rows = rows[rows != q]
        links = _query_links(cat, q)
        banned = [j for j, link in links.items() if link.kind == "cannot_link"]
        if banned:
            rows = rows[~np.isin(rows, banned)]
        if len(rows) == 0:
            also = " and the songs an expert says are unlike it" if banned else ""
            raise EmptyCultureError(
                f"culture {target.name!r} ({', '.join(target.ids)}) has no track with audio "
                f"factors other than the query{also}; choose a larger culture (its region or "
                "world region) or add recordings with `soundbridge add-track`"
            )
        method = alignment or self.alignment
        if method not in ALIGNMENTS:
            raise ValueError(f"alignment={method!r}: choose one of {', '.join(ALIGNMENTS)}")
        w = self.weight if weight is None else float(weight)
        space = _check_space(space or self.space)
        # one query is a few matrix-vector products: BLAS threads only fight each other (and the
        # server's other requests) there; one thread measured 2-4x faster at p99 (bench/)
        with _blas_controller().limit(limits=1, user_api="blas"):
            scores, coupling = self._scores(q, rows, target, method, w, space)
        n = min(k, len(rows))
        must = _must_links(rows, links)
        key = np.where(must, np.inf, scores) if must.any() else scores
        top = np.argpartition(-key, n - 1)[:n] if n < len(rows) else np.arange(len(rows))
        # an expert's must-link partners first, then by score; the scores stay what they are
        top = top[np.lexsort((cat.track_ids[rows[top]], -scores[top], ~must[top]))]
        return [
            self._result(q, int(rows[i]), float(scores[i]), coupling, explain, links, space)
            for i in top
        ]

    def _scores(
        self,
        q: int,
        rows: np.ndarray,
        target: ResolvedCulture,
        method: str,
        w: float,
        space: str = "factors",
    ) -> tuple[np.ndarray, Coupling | None]:
        if space == "gnn":
            x = self.gnn_matrix()
            if not x[q].any():
                raise MissingEmbeddingsError(
                    f"track {self.catalogue_.track_ids[q]!r} has no GNN embedding (added after "
                    "the recommenders were built): rebuild them with `soundbridge gnn evaluate "
                    "--force`, or use space='factors'"
                )
            direct = x[rows] @ x[q]
        else:
            x = self.embedding_
            direct = self.distribution_[rows] @ self.distribution_[q]
            direct = direct + self.affect_weight * (self.za_[rows] @ self.za_[q])
        coupling = None
        if method != "none" and w != 0.0:
            key = "+".join(sorted(target.ids))
            source, src_rows = self.source_culture(q, target.level)
            coupling = self.aligner(method, space).transport(
                x[q], source, src_rows, key, self.rows(target.ids)
            )
            direct = (1.0 - w) * direct + w * (x[rows] @ coupling.image)
        if space == "gnn":
            # a track added since the build has no embedding (a zero row): the lowest score a
            # track with one can get (both terms are cosines of unit vectors), so it comes last
            # and the culture still gives k results
            direct = np.where(x[rows].any(axis=1), direct, -1.0)
        return direct, coupling

    def _result(
        self,
        q: int,
        j: int,
        score: float,
        coupling: Coupling | None,
        explain: bool,
        links: dict[int, ExpertLink],
        space: str = "factors",
    ) -> Recommendation:
        cat = self.catalogue_
        society = str(cat.cultures[j])
        label = self.labels_[j] or None
        details: dict[str, Any] = {}
        text = ""
        if explain:
            details, text = self.explain(q, j, coupling, space)
            link = links.get(j)
            details["expert_link"] = _link_details(link)
            if link is not None and link.kind == "must_link":
                text = f"An expert says these are alike: {link.rationale} ({link.author}). {text}"
        return Recommendation(
            track_id=str(cat.track_ids[j]),
            score=score,
            culture=society,
            culture_name=cat.tree.name.get(society, society),
            title=str(cat.names[j]),
            function=label,
            explanation=text,
            details=details,
            audio=str(cat.audio[j]) if cat.audio is not None else "",
        )

    def query_function(self, q: int) -> tuple[str, float, str]:
        """The query's function: (name, probability, ``"label"`` or ``"predicted"``).

        ``"label"`` is any known function, public or decided by experts; :meth:`label_origin`
        says which.
        """
        classes = self.function_model_.classes_
        if self.labels_[q]:
            return str(self.labels_[q]), 1.0, "label"
        i = int(self.predicted_[q].argmax())
        return classes[i], float(self.predicted_[q, i]), "predicted"

    def label_origin(self, row: int) -> tuple[str, str, str]:
        """Where the known function of ``row`` comes from: ``(source, experts, date)``.

        ``source`` is ``"dataset"``, ``"expert"`` or ``""`` (not known: predicted); ``experts``
        and ``date`` name who decided an expert label and when (``""`` otherwise).
        """
        if not self.labels_[row]:
            return "", "", ""
        cat = self.catalogue_
        if cat.label_source[row] == "expert" and cat.functions[row] == self.labels_[row]:
            return "expert", str(cat.label_experts[row]), str(cat.label_dates[row])
        return "dataset", "", ""

    def _expert_note(self, row: int, whose: str) -> str:
        """``"<whose> function is an expert label, by USER on DATE."`` or ``""``."""
        source, experts, date = self.label_origin(row)
        if source != "expert":
            return ""
        on = f" on {date}" if date else ""
        return f"{whose} function is an expert label, by {experts or 'an expert'}{on}."

    def explain(
        self, q: int, j: int, coupling: Coupling | None, space: str = "factors"
    ) -> tuple[dict[str, Any], str]:
        """Why track ``j`` answers query ``q`` (ranked in ``space``): numbers and one paragraph."""
        cat = self.catalogue_
        qf, qp, qsrc = self.query_function(q)
        match = float(self.distribution_[j] @ self.distribution_[q])
        affect = float(self.za_[j] @ self.za_[q])
        style = float(np.linalg.norm(cat.zs[j] - cat.zs[q]) / self.style_median_)
        label = self.labels_[j]
        parts: list[str] = []
        if label and qsrc == "label" and label == qf:
            parts.append(f"Both serve {qf}.")
        elif label and label == qf:
            parts.append(f"Serves {label}, which the query most likely serves too (p={qp:.2f}).")
        elif label:
            parts.append(
                f"Serves {label}; the query {'serves' if qsrc == 'label' else 'most likely serves'}"
                f" {qf} (chance both serve the same function: {match:.2f})."
            )
        else:
            guess = self.function_model_.classes_[int(self.predicted_[j].argmax())]
            parts.append(
                f"Function not public; predicted {guess}; the query "
                f"{'serves' if qsrc == 'label' else 'most likely serves'} {qf} "
                f"(chance both serve the same function: {match:.2f})."
            )
        parts += [
            n for n in (self._expert_note(j, "Its"), self._expert_note(q, "The query's")) if n
        ]
        feel = "close" if affect > 0.5 else "related" if affect > 0.0 else "different"
        parts.append(f"Affect (z_a cosine) {affect:.2f}: {feel} in feel.")
        sound = (
            "a similar sound"
            if style < 0.8
            else "a different sound"
            if style < 1.2
            else "a very different sound"
        )
        parts.append(f"Style distance (z_s) {style:.2f}x the catalogue median: {sound}.")
        gnn = None
        if space == "gnn":
            x = self.gnn_matrix()
            gnn = float(x[j] @ x[q])
            parts.append(f"GNN embedding cosine {gnn:.2f} (the tracks' places in the graph).")
        cpl = None
        if coupling is not None:
            hit = np.flatnonzero(coupling.anchors == j)
            cpl = float(coupling.weights[hit[0]]) if len(hit) else None
            if cpl is not None:
                parts.append(f"Transport plan sends {cpl:.0%} of the query's mass here.")
        path = self.path(q, j)
        parts.append("Graph path: " + " ".join(path) if path else "No short graph path.")
        source, experts, date = self.label_origin(j)
        details = {
            "function_match": match,
            "function_source": source or "predicted",
            "function_experts": experts or None,
            "function_date": date or None,
            "query_function": qf,
            "query_function_probability": qp,
            "query_function_source": qsrc,
            "query_label_source": self.label_origin(q)[0] or None,
            "affect_similarity": affect,
            "style_distance": style,
            "coupling": cpl,
            "path": path,
            "space": space,
            "gnn_similarity": gnn,
        }
        return details, " ".join(parts)

    def path(self, q: int, j: int) -> list[str] | None:
        """A short knowledge-graph path between two tracks, as Cypher-like steps, or ``None``."""
        cat = self.catalogue_
        tq, tj = str(cat.track_ids[q]), str(cat.track_ids[j])
        fq, fj = self.labels_[q], self.labels_[j]
        if fq and fq == fj:
            return [f"({tq})", "-[:SERVES_FUNCTION]->", f"(:Function {{name: '{fq}'}})",
                    "<-[:SERVES_FUNCTION]-", f"({tj})"]  # fmt: skip
        sq, sj = str(cat.cultures[q]), str(cat.cultures[j])
        tree = cat.tree
        if sq and sj and sj in cat.style_similar.get(sq, {}):
            return [f"({tq})", "-[:FROM_CULTURE]->", f"({tree.name.get(sq, sq)})",
                    "-[:STYLE_SIMILAR]-", f"({tree.name.get(sj, sj)})",
                    "<-[:FROM_CULTURE]-", f"({tj})"]  # fmt: skip
        for level in ("region", "world_region"):
            a = tree.ancestor(sq, level) if sq else None
            if a is not None and a == (tree.ancestor(sj, level) if sj else None):
                hops = "-[:PART_OF]->" if level == "region" else "-[:PART_OF*2]->"
                back = "<-[:PART_OF]-" if level == "region" else "<-[:PART_OF*2]-"
                return [f"({tq})", "-[:FROM_CULTURE]->", f"({tree.name.get(sq, sq)})", hops,
                        f"({tree.name.get(a, a)})", back, f"({tree.name.get(sj, sj)})",
                        "<-[:FROM_CULTURE]-", f"({tj})"]  # fmt: skip
        return None


def _query_links(cat: TrackCatalogue, q: int) -> dict[int, ExpertLink]:
    """The experts' links of row ``q``: the other row → the link (a cannot-link wins)."""
    out: dict[int, ExpertLink] = {}
    for j, link in cat.links_of(q):
        if j not in out or link.kind == "cannot_link":
            out[j] = link
    return out


def _must_links(rows: np.ndarray, links: dict[int, ExpertLink]) -> np.ndarray:
    """Shapes: ``(len(rows),)`` bool, which rows an expert must-linked with the query."""
    partners = [j for j, link in links.items() if link.kind == "must_link"]
    return np.isin(rows, partners) if partners else np.zeros(len(rows), dtype=bool)


def _link_details(link: ExpertLink | None) -> dict[str, str] | None:
    if link is None:
        return None
    return {"kind": link.kind, "rationale": link.rationale, "author": link.author,
            "answer_id": link.answer_id}  # fmt: skip


def _moved_anchors(aligner: CultureAligner, rows: np.ndarray) -> Callable[[str, str], bool]:
    """Whether a cached plan of ``aligner`` has one of ``rows`` among its anchors.

    A plan is computed from its anchors' embedding rows alone (and the tracks of a culture, hence
    its anchors, stay the same when labels change), so a plan whose anchors avoid the relabelled
    rows is what a fresh computation would give; a culture larger than ``max_points`` keeps its
    plans unless the song happens to be one of its anchors.
    """

    def stale(source: str, target: str) -> bool:
        plan = aligner.plans_.get((source, target))
        return plan is None or bool(
            np.isin(plan.source, rows).any() or np.isin(plan.target, rows).any()
        )

    return stale


def _check_space(space: str) -> str:
    if space not in SPACES:
        raise ValueError(f"space={space!r}: choose one of {', '.join(SPACES)}")
    return space


def _unit_gnn(gnn: np.ndarray) -> np.ndarray:
    """Unit rows of GNN embeddings, zero rows where a track has none (NaN). Shapes: ``(n, d)``."""
    x = np.nan_to_num(np.asarray(gnn, dtype=np.float64))
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _widen(a: np.ndarray, columns: list[int], width: int) -> np.ndarray:
    """``a`` (``(n, F)``) with its columns moved to ``columns`` of ``(n, width)`` zeros."""
    out = np.zeros((len(a), width), dtype=a.dtype)
    out[:, columns] = a
    return out


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# ---------------------------------------------------------------------- served from the graph
class _Served(NamedTuple):
    """A served model, the stamp its catalogue was read under, and when (``time.monotonic``,
    taken before the stamp was read: the graph it knows is at least that recent)."""

    stamp: str
    model: CrossCulturalRecommender
    read_at: float


#: (driver, parameters) -> the served model
_SERVED: dict[str, _Served] = {}
#: (driver, parameters) -> the refresh under way; its callers wait on it instead of fitting
_FLIGHTS: dict[str, Future[CrossCulturalRecommender]] = {}
#: (driver, parameters) -> the background refit under way (at most one each)
_REFITS: dict[str, threading.Thread] = {}
_SERVED_LOCK = threading.Lock()
#: notified, under _SERVED_LOCK, whenever a background refit ends
_REFIT_ENDED = threading.Condition(_SERVED_LOCK)
#: Seconds at least between the starts of two background refits of one model. A refit takes
#: ~0.5 s of CPU on the real catalogue and, running beside the requests (the GIL, two cores),
#: slowed recommend_similar from p99 11 ms to 150 ms while answers kept arriving every 200 ms
#: (bench/answers_latency.py); the relabelled model serves every answer meanwhile, so only the
#: predictions for *other* songs wait for the refit.
REFIT_INTERVAL_S = 10.0

log = logging.getLogger(__name__)


def served_catalogue(driver: neo4j.Driver, **params: Any) -> CrossCulturalRecommender:
    """The recommender fitted on the graph's current catalogue (refreshed when the graph changed).

    One refresh per driver and parameters at a time: the first caller that finds the graph
    changed reads the catalogue and fits; callers arriving meanwhile wait for that model (or
    its error — a failed refresh is not kept, and the next call tries again). The lock is held
    only to look up and record, so other parameters and drivers are never held up by the fit.

    Two changes are folded into the served model instead of refitting it, at the price of
    reading the catalogue (:func:`_follow`):

    - new tracks without a known function (what ``soundbridge add-track`` does):
      :meth:`CrossCulturalRecommender.add_tracks`, the same answers as a refit;
    - experts' answers given, replaced or retracted (docs/experts.md): only the answers are read
      again (:func:`~recsys.catalogue.with_answers`, when the stamp says nothing else changed),
      :meth:`CrossCulturalRecommender.relabel` serves the new known functions and links at once,
      and, when a label changed, a background thread refits the function model with them and
      swaps the refitted model in when it is done (:func:`_refit_in_background`; at most one
      per driver and parameters, which goes round again while answers keep arriving; a failure
      is logged and the relabelled model keeps serving). :func:`wait_for_refits` waits for it.

    Anything else refits.

    Args:
        driver: an open driver (see :func:`kg.connection.connect`).
        params: :class:`CrossCulturalRecommender` parameters.
    """
    key = repr(sorted(params.items())) + "@" + str(id(driver))
    while True:
        read_at = time.monotonic()
        stamp = catalogue_stamp(driver)
        with _SERVED_LOCK:
            hit = _SERVED.get(key)
            if hit is not None and hit.stamp == stamp:
                return hit.model
            flight = _FLIGHTS.get(key)
            lead = flight is None
            if flight is None:
                flight = _FLIGHTS[key] = Future()
        if lead:
            served = hit.model if hit else None
            return _refresh(key, flight, driver, params, served, stamp, read_at)
        model = flight.result()  # the leader's error, if it failed
        if model.catalogue_.stamp == stamp:
            return model
        # the graph changed while that refresh read it: look again (the next refresh is cheap)


def _refresh(
    key: str,
    flight: Future[CrossCulturalRecommender],
    driver: neo4j.Driver,
    params: dict[str, Any],
    served: CrossCulturalRecommender | None,
    stamp: str,
    read_at: float,
) -> CrossCulturalRecommender:
    try:
        if served is not None and answers_only(served.catalogue_.stamp, stamp):
            catalogue = with_answers(served.catalogue_, driver, stamp)  # not every track again
        else:
            catalogue = load_catalogue(driver)
        model = _follow(served, catalogue, params)
    except BaseException as e:  # every waiter must hear of it, whatever it is
        with _SERVED_LOCK:
            del _FLIGHTS[key]
        flight.set_exception(e)
        raise
    with _SERVED_LOCK:
        _SERVED[key] = _Served(catalogue.stamp, model, read_at)
        del _FLIGHTS[key]
        if model.provisional_:
            _refit_in_background(key, driver, params)
    flight.set_result(model)
    return model


def _follow(
    served: CrossCulturalRecommender | None, catalogue: TrackCatalogue, params: dict[str, Any]
) -> CrossCulturalRecommender:
    """The model for ``catalogue``: the served one with the change folded in where it can be
    (on a copy: the served model keeps answering the requests already holding it), else a fit."""
    if served is not None:
        rows = answered_rows(served.catalogue_, catalogue)
        if rows is not None:
            return copy.copy(served)._relabel(catalogue, rows)
        new = served._added(catalogue)
        if new is not None:
            return copy.copy(served)._insert(catalogue, new, None)
    return CrossCulturalRecommender(**params).fit(catalogue)


def _refit_in_background(key: str, driver: neo4j.Driver, params: dict[str, Any]) -> None:
    """Start the background refit for ``key`` unless one runs (that one goes round again while
    the served model is provisional). The caller holds ``_SERVED_LOCK``."""
    if key in _REFITS:
        return
    thread = threading.Thread(
        target=_refit_loop, args=(key, driver, params), name="soundbridge-refit", daemon=True
    )
    _REFITS[key] = thread
    thread.start()


def _refit_loop(key: str, driver: neo4j.Driver, params: dict[str, Any]) -> None:
    """Refit on the graph as it is now, swap the result in, and again while answers keep coming
    (a round starts :data:`REFIT_INTERVAL_S` after the previous one at the earliest).

    Each round reads the catalogue and fits with no lock held, then installs the result
    (:func:`_install`). The thread ends, under the lock that installs provisional models, as
    soon as the served model is not provisional.
    """
    while True:
        started = time.monotonic()
        try:
            fitted = CrossCulturalRecommender(**params).fit(load_catalogue(driver))
            _install(key, fitted, started)
        except Exception:  # any failure of a refit thread: log it, keep the served model
            log.exception("background refit of the served recommender failed; the model with "
                          "the experts' answers folded in keeps serving")  # fmt: skip
            with _SERVED_LOCK:
                del _REFITS[key]
                _REFIT_ENDED.notify_all()
            return
        with _SERVED_LOCK:
            hit = _SERVED.get(key)
            if hit is None or not hit.model.provisional_:
                del _REFITS[key]
                _REFIT_ENDED.notify_all()
                return
        # answers arrived during the round: once more, but not at once (see REFIT_INTERVAL_S)
        time.sleep(max(0.0, started + REFIT_INTERVAL_S - time.monotonic()))


def _install(key: str, fitted: CrossCulturalRecommender, read_at: float) -> None:
    """Serve ``fitted`` (read from the graph no earlier than ``read_at``) in place of the served
    model, or — when a request refreshed the served model from a newer graph meanwhile — ``fitted``
    with the answers that arrived since folded in (still provisional: one more round), unless
    the graph changed otherwise (then the served model stays, and so does its refit)."""
    while True:
        with _SERVED_LOCK:
            hit = _SERVED.get(key)
        if hit is None:
            return
        if hit.stamp == fitted.catalogue_.stamp or hit.read_at <= read_at:
            # the same graph, or the served model knows no more than the fitted one: a model
            # relabelled back to the served model's older answers would never stop being
            # provisional while no request came to read the newer ones
            entry = _Served(fitted.catalogue_.stamp, fitted, read_at)
        else:
            rows = answered_rows(fitted.catalogue_, hit.model.catalogue_)
            if rows is None:
                return
            model = copy.copy(fitted)._relabel(hit.model.catalogue_, rows)
            entry = _Served(hit.stamp, model, hit.read_at)
        with _SERVED_LOCK:
            if _SERVED.get(key) is hit:  # else a request refreshed it meanwhile: look again
                _SERVED[key] = entry
                return


def wait_for_refits(timeout: float | None = None) -> bool:
    """Wait until no background refit runs (see :func:`served_catalogue`).

    Returns:
        ``True`` when none runs, ``False`` when ``timeout`` seconds passed first.
    """
    with _REFIT_ENDED:
        return _REFIT_ENDED.wait_for(lambda: not _REFITS, timeout=timeout)


def recommend_similar(
    track: str,
    target_culture: str,
    k: int = 10,
    *,
    driver: neo4j.Driver | None = None,
    **options: Any,
) -> list[Recommendation]:
    """Songs like ``track`` from ``target_culture``: what a song does and feels like, transported
    into the target culture's geometry.

    Args:
        track: a Track id (``"NHS2-TBMU"``, or one added with ``soundbridge add-track``).
        target_culture: a society, HRAF region ("Central Andes"), world region, Glottocode or alias
            ("Andean", "Quechua").
        k: how many results (exactly ``k`` when the culture has at least ``k`` other tracks).
        driver: an open Neo4j driver; default: one from ``NEO4J_URI``/``NEO4J_USER``/
            ``NEO4J_PASSWORD`` (kept for the process).
        options: ``alignment`` (``"unbalanced"``, ``"sinkhorn"``, ``"fgw"``, ``"none"``),
            ``weight``, ``explain``, ``space`` (``"factors"``, ``"gnn"``: the GNN's track
            embeddings, which the recommenders' build writes).

    Returns:
        Best first.

    Raises:
        UnknownTrackError, UnknownCultureError (with the closest names), EmptyCultureError,
        MissingEmbeddingsError (``space="gnn"`` without GNN embeddings).
    """
    allowed = {"alignment", "weight", "explain", "space"}
    bad = sorted(set(options) - allowed)
    if bad:
        raise TypeError(
            f"recommend_similar() got unknown option(s) {', '.join(bad)}; "
            f"known: {', '.join(sorted(allowed))}"
        )
    model = served_catalogue(driver if driver is not None else _default_driver())
    return model.recommend_similar(track, target_culture, k, **options)


_DRIVER: list[neo4j.Driver] = []


def _default_driver() -> neo4j.Driver:
    from kg.config import Neo4jSettings
    from kg.connection import connect

    with _SERVED_LOCK:
        if not _DRIVER:
            _DRIVER.append(connect(Neo4jSettings.from_env()))
        return _DRIVER[0]
