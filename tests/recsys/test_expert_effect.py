"""Experts' answers change the recommender's answers at once (docs/experts.md).

Without the server: a small known-answer catalogue (even tracks are dances of culture Beta, odd
ones lullabies of Alpha, every third one public) where an expert labels, relabels or retracts a
song, links two songs, or names a concept the model has never seen; the relabelled model is
compared with what a fit with the same posterior computes.

Against the server (marked ``neo4j``): the real CCMC songs and Culture tree with known-answer
factors, answers given through :mod:`kg.expert` exactly as the review queue gives them, and the
served recommender counted: the answer shows in the very next ``recommend_similar`` with no fit on
the request path, the background refit swaps in, and what it swaps in agrees with every answer.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from recsys import similar
from recsys.catalogue import ExpertLink, TrackCatalogue, answered_rows
from recsys.cultures import CultureResolver
from recsys.functions import MIN_EXAMPLES, FunctionModel, label_distribution
from recsys.similar import CrossCulturalRecommender

WAIT = 120.0  # seconds a test waits for a thread before it gives up (never reached when it works)


# ---------------------------------------------------------------------- without the server
def _catalogue(n: int = 62, seed: int = 1) -> TrackCatalogue:
    tree = CultureResolver.from_rows(
        [
            {"id": "W", "name": "World", "level": "world_region", "parent": None},
            {"id": "R", "name": "Region", "level": "region", "parent": "W"},
            {"id": "A", "name": "Alpha", "level": "society", "parent": "R"},
            {"id": "B", "name": "Beta", "level": "society", "parent": "R"},
            {"id": "G", "name": "Gamma", "level": "society", "parent": "W"},
        ],
        aliases={},
    )
    rng = np.random.default_rng(seed)
    truth = np.array(["Dance", "Lullaby"] * (n // 2))
    factors = rng.normal(size=(n, 8))
    factors[:, 4:] += np.where(truth == "Dance", 3.0, -3.0)[:, None]
    cultures = np.where(np.arange(n) % 2 == 1, "A", "B")
    cultures[-4:] = "G"  # a society of its own, away from the relabelled songs
    return TrackCatalogue(
        track_ids=np.array([f"t{i:03d}" for i in range(n)]),
        names=np.array([f"song {i}" for i in range(n)]),
        cultures=cultures,
        functions=np.where(np.arange(n) % 3 == 0, truth, ""),
        factors=factors.astype(np.float32),
        dims=(2, 2, 4),
        tree=tree,
    )


def _answered(
    cat: TrackCatalogue,
    labels: dict[str, str] | None = None,
    links: tuple[ExpertLink, ...] = (),
    *,
    by: str = "ana",
    on: str = "2025-05-01",
) -> TrackCatalogue:
    """``cat`` as load_catalogue reads it once experts gave these labels and links."""
    functions = cat.functions.astype(object)
    source, experts, dates = (a.astype(object) for a in (cat.label_source, cat.label_experts,
                                                         cat.label_dates))  # fmt: skip
    for track, label in (labels or {}).items():
        i = cat.index(track)
        assert cat.label_source[i] != "dataset", "experts never override a public label"
        functions[i], source[i] = label, "expert" if label else ""
        experts[i], dates[i] = (by, on) if label else ("", "")
    functions = functions.astype(str)
    return dataclasses.replace(
        cat,
        functions=functions,
        function_names=tuple(sorted({str(f) for f in functions if f})),
        label_source=source.astype(str),
        label_experts=experts.astype(str),
        label_dates=dates.astype(str),
        links=links,
    )


@pytest.fixture(scope="module")
def base() -> TrackCatalogue:
    return _catalogue()


@pytest.fixture(scope="module")
def fitted(base: TrackCatalogue) -> CrossCulturalRecommender:
    return CrossCulturalRecommender(max_points=8).fit(base)


def _warm(model: CrossCulturalRecommender) -> None:
    for culture in ("Alpha", "Beta", "Gamma"):
        model.recommend_similar("t060", culture, 3)  # t060 is in Gamma


def test_an_expert_label_counts_as_known_at_once(base, fitted) -> None:
    _warm(fitted)
    gamma = fitted.aligner().plans_["G", "G"]
    # t001 is an unlabelled lullaby of Alpha; an expert says it is a dance
    answered = _answered(base, {"t001": "Dance"})
    assert answered_rows(base, answered).tolist() == [1]
    model = _copy(fitted).relabel(answered)
    row = base.index("t001")
    assert fitted.query_function(row)[::2] == ("Lullaby", "predicted")  # the served one: as was
    assert model.query_function(row) == ("Dance", 1.0, "label")
    assert model.label_origin(row) == ("expert", "ana", "2025-05-01")
    assert model.provisional_ and not fitted.provisional_
    # the state a fit with the same posterior reaches (so the refit only changes the posterior)
    same = CrossCulturalRecommender(max_points=8).fit(answered, predicted=model.predicted_)
    for name in ("labels_", "distribution_", "za_", "embedding_"):
        assert np.array_equal(getattr(model, name), getattr(same, name)), name
    assert np.array_equal(
        model.distribution_[row],
        label_distribution(np.array(["Dance"]), model.function_model_.classes_,
                           fitted.predicted_[row : row + 1])[0],
    )  # fmt: skip
    # plans away from the song's cultures are kept; the one into Alpha is dropped
    plans = model.aligner().plans_
    assert list(plans) == [("G", "B"), ("G", "G")] and plans["G", "G"].plan is gamma.plan
    got = model.recommend_similar("t001", "Beta", 5)
    assert got[0].details["query_function_source"] == "label"
    assert got[0].details["query_label_source"] == "expert"
    assert "The query's function is an expert label, by ana on 2025-05-01." in got[0].explanation
    assert sum(r.function == "Dance" for r in got) >= 2  # it now finds dances
    back = model.recommend_similar("t000", "Alpha", 30)
    hit = next(r for r in back if r.track_id == "t001")
    assert hit.function == "Dance" and hit.details["function_source"] == "expert"
    assert hit.details["function_experts"] == "ana" and hit.details["function_date"] == "2025-05-01"
    assert "Its function is an expert label, by ana on 2025-05-01." in hit.explanation


def _copy(model: CrossCulturalRecommender) -> CrossCulturalRecommender:
    import copy

    return copy.copy(model)


def test_a_retraction_returns_the_song_to_its_prediction(base, fitted) -> None:
    answered = _answered(base, {"t001": "Dance"})
    labelled = _copy(fitted).relabel(answered)
    retracted = _copy(labelled).relabel(base)
    row = base.index("t001")
    assert retracted.query_function(row)[::2] == ("Lullaby", "predicted")
    assert retracted.label_origin(row) == ("", "", "")
    for name in ("labels_", "predicted_", "distribution_", "embedding_"):
        assert np.array_equal(getattr(retracted, name), getattr(fitted, name)), name
    assert retracted.provisional_  # until the refit, which then matches a fit on base


def test_a_new_concept_becomes_a_class_and_the_refit_keeps_it(base, fitted) -> None:
    _warm(fitted)
    answered = _answered(base, {"t001": "Harvest blessing of the first maize"})
    model = _copy(fitted).relabel(answered)
    classes = model.function_model_.classes_
    assert classes == ("Dance", "Harvest blessing of the first maize", "Lullaby")
    assert fitted.function_model_.classes_ == ("Dance", "Lullaby")
    assert model.predicted_.shape == (len(base), 3) and not model.predicted_[:, 1].any()
    assert model.aligners_ == {}  # the embedding grew a column: every plan is recomputed
    row = base.index("t001")
    assert model.query_function(row)[0] == "Harvest blessing of the first maize"
    assert len(model.recommend_similar("t001", "Beta", 5)) == 5
    # one song is too few to learn the concept from: the refit keeps it as a class it never
    # predicts instead of failing (calibration needs MIN_EXAMPLES per class)
    refit = CrossCulturalRecommender(max_points=8).fit(answered)
    assert refit.function_model_.classes_ == classes
    assert not refit.predicted_[:, 1].any()
    assert refit.query_function(row)[0] == "Harvest blessing of the first maize"
    assert MIN_EXAMPLES > 1


def test_function_model_trains_only_classes_with_enough_examples() -> None:
    rng = np.random.default_rng(0)
    y = np.array(["Dance", "Lullaby"] * 30)
    X = rng.normal(size=(60, 4)) + (y == "Dance")[:, None] * 3.0
    y[:2] = "Concept"
    m = FunctionModel().fit(X, y)
    assert m.classes_ == ("Concept", "Dance", "Lullaby")
    p = m.predict_proba(X)
    assert p.shape == (60, 3) and not p[:, 0].any() and np.allclose(p.sum(1), 1.0)
    y[2:] = "Dance"
    with pytest.raises(ValueError, match="at least two functions"):
        FunctionModel().fit(X, y)


def test_links_cannot_and_must(base, fitted) -> None:
    plain = fitted.recommend_similar("t000", "Alpha", 40)  # every one of Alpha's 29
    best, worst = plain[0].track_id, plain[-1].track_id
    links = (
        ExpertLink("t000", best, "cannot_link", "one is a parody", "ben", "ans-00000000000a"),
        ExpertLink(worst, "t000", "must_link", "the same tune", "ana", "ans-00000000000b"),
    )
    model = _copy(fitted).relabel(_answered(base, links=links))
    assert not model.provisional_  # no label changed: nothing to refit
    for k in (1, 5, 28):
        got = model.recommend_similar("t000", "Alpha", k)
        assert best not in {r.track_id for r in got}
        assert got[0].track_id == worst
        assert got[0].explanation.startswith("An expert says these are alike: the same tune (ana).")
        assert got[0].details["expert_link"]["answer_id"] == "ans-00000000000b"
        assert got[0].score == next(r.score for r in plain if r.track_id == worst)  # honest
        assert [r.track_id for r in got[1:]] == [
            r.track_id for r in plain if r.track_id not in (best, worst)
        ][: k - 1]
    # both ways round, and explain=False ranks the same
    assert best not in {r.track_id for r in model.recommend_similar(best, "Beta", 30)}
    assert model.recommend_similar("t000", "Alpha", 3, explain=False)[0].track_id == worst


def test_a_cannot_link_wins_over_a_must_link_between_the_same_pair(base, fitted) -> None:
    links = (
        ExpertLink("t000", "t001", "must_link", "alike", "ana"),
        ExpertLink("t001", "t000", "cannot_link", "not alike", "ben"),
    )
    model = _copy(fitted).relabel(_answered(base, links=links))
    assert "t001" not in {r.track_id for r in model.recommend_similar("t000", "Alpha", 30)}


def test_answered_rows_refuses_other_changes(base) -> None:
    answered = _answered(base, {"t001": "Dance"})
    public = dataclasses.replace(base, functions=np.where(base.track_ids == "t000", "Lullaby",
                                                          base.functions))  # fmt: skip
    assert answered_rows(base, public) is None  # a public label rewritten
    moved = base.factors.copy()
    moved[3, 0] += 1.0
    assert answered_rows(base, dataclasses.replace(answered, factors=moved)) is None
    assert answered_rows(answered, base).tolist() == [1]  # a retraction
    assert answered_rows(base, base).tolist() == []


# ---------------------------------------------------------------------- background refit
class _Graph:
    """What served_catalogue reads, without a server: a catalogue that tests change, and reads
    that a test can hold (the background refit's ``load_catalogue``)."""

    def __init__(self, catalogue: TrackCatalogue) -> None:
        self.catalogue = catalogue
        self.version = 0
        self.reads = 0
        self.hold: Callable[[], None] = lambda: None

    def set(self, catalogue: TrackCatalogue) -> None:
        self.version += 1
        self.catalogue = dataclasses.replace(catalogue, stamp=f"v{self.version}")

    def stamp(self, driver: Any) -> str:
        return self.catalogue.stamp

    def load(self, driver: Any) -> TrackCatalogue:
        self.reads += 1
        catalogue = self.catalogue
        if threading.current_thread().name == "soundbridge-refit":
            self.hold()
        return catalogue


@pytest.fixture
def offline(base, monkeypatch) -> Iterator[tuple[_Graph, list[str]]]:
    """served_catalogue over a :class:`_Graph`, with a cold cache; fits are logged by thread."""
    graph = _Graph(base)
    graph.set(base)
    monkeypatch.setattr(similar, "_SERVED", {})
    monkeypatch.setattr(similar, "_FLIGHTS", {})
    monkeypatch.setattr(similar, "_REFITS", {})
    monkeypatch.setattr(similar, "catalogue_stamp", graph.stamp)
    monkeypatch.setattr(similar, "load_catalogue", graph.load)
    fits: list[str] = []
    fit = CrossCulturalRecommender.fit

    def counted(self: CrossCulturalRecommender, *args: Any, **kwargs: Any) -> Any:
        fits.append(threading.current_thread().name)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(CrossCulturalRecommender, "fit", counted)
    yield graph, fits
    graph.hold = lambda: None
    assert similar.wait_for_refits(WAIT)


def test_answers_are_served_at_once_and_the_refit_swaps_in(base, offline) -> None:
    graph, fits = offline
    driver = object()
    first = similar.served_catalogue(driver, max_points=8)
    assert fits == ["MainThread"]
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(WAIT)

    graph.hold = hold
    graph.set(_answered(base, {"t001": "Dance"}))
    patched = similar.served_catalogue(driver, max_points=8)
    assert patched.provisional_ and patched.query_function(1)[0] == "Dance"
    assert entered.wait(WAIT)  # the refit is reading the graph, held there
    assert fits == ["MainThread"]  # no fit on the request path
    assert similar.served_catalogue(driver, max_points=8) is patched
    # two more answers while the refit runs: both served at once, one more round afterwards
    graph.set(_answered(base, {"t001": "Dance", "t005": "Dance"}))
    assert similar.served_catalogue(driver, max_points=8).query_function(5)[0] == "Dance"
    graph.set(_answered(base, {"t001": "Dance", "t005": "Dance", "t007": "Dance"}))
    latest = similar.served_catalogue(driver, max_points=8)
    assert [latest.query_function(i)[0] for i in (1, 5, 7)] == ["Dance"] * 3
    assert list(similar._REFITS) and fits == ["MainThread"]
    graph.hold = lambda: None
    release.set()
    assert similar.wait_for_refits(WAIT)
    final = similar.served_catalogue(driver, max_points=8)
    assert not final.provisional_
    assert fits == ["MainThread", "soundbridge-refit", "soundbridge-refit"]
    fresh = CrossCulturalRecommender(max_points=8).fit(graph.catalogue)
    for name in ("labels_", "predicted_", "distribution_", "embedding_"):
        assert np.array_equal(getattr(final, name), getattr(fresh, name)), name
    assert first is not final and not first.provisional_


def test_a_failed_refit_is_logged_and_the_answers_keep_serving(base, offline, caplog) -> None:
    graph, fits = offline
    driver = object()
    similar.served_catalogue(driver, max_points=8)

    def fail() -> None:
        raise RuntimeError("the refit ran out of memory")

    graph.hold = fail
    graph.set(_answered(base, {"t001": "Dance"}))
    patched = similar.served_catalogue(driver, max_points=8)
    assert similar.wait_for_refits(WAIT)
    assert "background refit" in caplog.text and "out of memory" in caplog.text
    assert similar.served_catalogue(driver, max_points=8) is patched
    assert patched.query_function(1)[0] == "Dance"
    graph.hold = lambda: None
    graph.set(_answered(base, {"t001": "Dance", "t005": "Dance"}))  # the next answer tries again
    similar.served_catalogue(driver, max_points=8)
    assert similar.wait_for_refits(WAIT)
    assert not similar.served_catalogue(driver, max_points=8).provisional_
