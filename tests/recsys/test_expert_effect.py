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
from tests.recsys.known_graph import build_known_graph

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
    before = dict(fitted.aligner().plans_)
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
    # a plan is kept unless the song is one of its anchors (Alpha's 29 songs have 8 anchors)
    plans = model.aligner().plans_
    kept = [key for key, p in before.items() if row not in p.source and row not in p.target]
    assert list(plans) == kept and ("G", "G") in kept
    assert all(plans[key].plan is before[key].plan for key in kept)
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


def test_evaluations_read_the_dataset_labels_only(base) -> None:
    answered = _answered(base, {"t001": "Dance"})
    plain = answered.dataset_only()
    row = base.index("t001")
    assert answered.functions[row] == "Dance" and plain.functions[row] == ""
    assert plain.label_source[row] == "" and not plain.links
    np.testing.assert_array_equal(plain.functions, base.functions)  # the dataset's, as before
    assert base.dataset_only() is base  # nothing to leave out


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


# ---------------------------------------------------------------------- text search
TEXT_PARAMS: dict[str, Any] = {"epochs": 40, "batch_size": 32, "dim": 32, "hidden": 64}


def _text_catalogue(seed: int = 0) -> TrackCatalogue:
    """Five societies of 16 tracks, functions in turn; z_a says the function. The Akan (S-akan)
    publish no function."""
    functions = ("Dance", "Healing", "Lullaby", "Work")
    rows: list[dict[str, Any]] = [
        {"id": "WR", "name": "Africa", "level": "world_region", "parent": None},
        {"id": "HR", "name": "Western Africa", "level": "region", "parent": "WR"},
    ] + [
        {"id": f"S-{s}", "name": s.title(), "level": "society", "parent": "HR"}
        for s in ("ewe", "akan", "fon", "yoruba", "igbo")
    ]  # fmt: skip
    rng = np.random.default_rng(seed)
    n = 80
    truth = np.array([functions[i % 4] for i in range(n)])
    za = 3.0 * np.eye(4)[[functions.index(f) for f in truth]]
    cultures = np.repeat([r["id"] for r in rows[2:]], 16)
    return TrackCatalogue(
        track_ids=np.array([f"T{i:03d}" for i in range(n)]),
        names=np.array([f"song {i}" for i in range(n)]),
        cultures=cultures,
        functions=np.where(cultures == "S-akan", "", truth),
        factors=np.hstack([rng.normal(size=(n, 8)), za + 0.3 * rng.normal(size=za.shape)]).astype(
            np.float32
        ),
        dims=(4, 4, 4),
        tree=CultureResolver.from_rows(rows, aliases={}),
    )


def test_text_search_reads_an_expert_label_like_a_public_one_without_training() -> None:
    from recsys.text import TextMusicEmbedding

    cat = _text_catalogue()
    rec = CrossCulturalRecommender(alignment="none").fit(cat)
    emb = TextMusicEmbedding(**TEXT_PARAMS).fit(rec)
    # T017 is an Akan healing song (its audio says so); an expert says it is a work song
    answered = _answered(cat, {"T017": "Work"}, by="kofi", on="2025-06-02")
    followed = emb.follow(_copy(rec).relabel(answered))
    assert followed.audio_head_ is emb.audio_head_ and followed.text_head_ is emb.text_head_
    row = cat.index("T017")
    moved = np.flatnonzero((followed.track_vectors_ != emb.track_vectors_).any(axis=1))
    assert moved.tolist() == [row]
    assert "a work song" in followed.captions_[row] and "a work song" not in emb.captions_[row]

    def rank(model: TextMusicEmbedding) -> int:
        got = model.search("a work song", 16, target_culture="Akan")
        return [r.track_id for r in got].index("T017")

    assert rank(followed) < rank(emb)
    hit = next(r for r in followed.search("a work song", 16, target_culture="Akan")
               if r.track_id == "T017")  # fmt: skip
    assert hit.function == "Work" and hit.details["label_source"] == "expert"
    assert "Function Work: expert label, by kofi on 2025-06-02." in hit.explanation
    assert "function Work (expert label, by kofi on 2025-06-02)" in hit.details["matched_facts"]
    # a new concept widens what the music head reads: that needs training
    concept = _copy(rec).relabel(_answered(cat, {"T017": "Praise of the chief"}))
    assert not emb.can_follow(concept)


# ---------------------------------------------------------------------- background refit
class _Graph:
    """What served_catalogue reads, without a server: a catalogue that tests change, and reads
    that a test can hold (the background refit's ``load_catalogue``)."""

    def __init__(self, catalogue: TrackCatalogue) -> None:
        self.catalogue = catalogue
        self.version = 0
        self.reads = 0
        self.hold: Callable[[], None] = lambda: None  # in a refit's read, once it has read
        self.hold_before: Callable[[], None] = lambda: None  # ... before it reads

    def set(self, catalogue: TrackCatalogue) -> None:
        self.version += 1
        self.catalogue = dataclasses.replace(catalogue, stamp=f"v{self.version}")

    def stamp(self, driver: Any) -> str:
        return self.catalogue.stamp

    def load(self, driver: Any) -> TrackCatalogue:
        self.reads += 1
        refit = threading.current_thread().name == "soundbridge-refit"
        if refit:
            self.hold_before()
        catalogue = self.catalogue
        if refit:
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
    monkeypatch.setattr(similar, "REFIT_INTERVAL_S", 0.0)
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


def test_a_refit_goes_round_again_no_sooner_than_the_interval(base, offline, monkeypatch) -> None:
    import time

    graph, fits = offline
    monkeypatch.setattr(similar, "REFIT_INTERVAL_S", 0.5)
    driver = object()
    similar.served_catalogue(driver, max_points=8)
    starts: list[float] = []
    release = threading.Event()

    def hold() -> None:
        starts.append(time.monotonic())
        assert len(starts) > 1 or release.wait(WAIT)

    graph.hold = hold
    graph.set(_answered(base, {"t001": "Dance"}))
    similar.served_catalogue(driver, max_points=8)
    graph.set(_answered(base, {"t001": "Dance", "t005": "Dance"}))  # while the first round runs
    similar.served_catalogue(driver, max_points=8)
    release.set()
    assert similar.wait_for_refits(WAIT)
    assert len(starts) == 2 and starts[1] - starts[0] >= 0.5
    assert not similar.served_catalogue(driver, max_points=8).provisional_


def test_a_refit_that_read_a_newer_graph_than_any_request_is_served(base, offline) -> None:
    graph, fits = offline
    driver = object()
    similar.served_catalogue(driver, max_points=8)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(WAIT)

    graph.hold_before = hold
    graph.set(_answered(base, {"t001": "Dance"}))
    patched = similar.served_catalogue(driver, max_points=8)
    assert entered.wait(WAIT)
    graph.set(_answered(base, {"t001": "Dance", "t005": "Dance"}))  # and no request after it
    release.set()
    assert similar.wait_for_refits(WAIT)  # not relabelled back to the request's older answers
    assert fits == ["MainThread", "soundbridge-refit"]
    final = similar.served_catalogue(driver, max_points=8)  # no refresh: it knows the graph
    assert (
        final is not patched and not final.provisional_ and graph.reads == 3
    )  # fit, answer, refit
    assert final.query_function(5)[0] == "Dance"


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


# ---------------------------------------------------------------------- against the server
YAP = ("NHS2-5KU4", "NHS2-9Y4I", "NHS2-YLEN")  # Yapese songs, function withheld
EWE = "NHS2-QAHO"  # Ewe, public label Dance
# Test-only Cypher: what the known-answer factors are drawn from; the experts' part emptied.
_CLEAR = """
MATCH (n) WHERE n:Answer OR n:Concept DETACH DELETE n
WITH count(*) AS _
MATCH ()-[r:EXPERT_CONSTRAINT]->() DELETE r
"""


@pytest.fixture(scope="module")
def graph(neo4j_driver, graph_wiper, tmp_path_factory):
    from kg.accounts import account_key, add_account

    graph_wiper(neo4j_driver)
    build_known_graph(neo4j_driver)
    key = account_key(tmp_path_factory.mktemp("expert-effect-home"))
    for name, role, scopes in [
        ("rosa", "expert", ["CCMCyape1248"]),
        ("tomas", "expert", ["Yapese"]),
        ("boss", "admin", []),
    ]:
        add_account(neo4j_driver, name, "a long password", role, key=key, scopes=scopes)
    return neo4j_driver


class _Fits:
    """Fits of CrossCulturalRecommender, by thread; ``hold`` runs first in background ones."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.hold: Callable[[], None] = lambda: None  # in a refit's read, once it has read
        self.hold_before: Callable[[], None] = lambda: None  # ... before it reads
        self.entered = threading.Event()
        self.release = threading.Event()

    def held(self) -> None:
        """From now on, a background fit waits for :attr:`release` (and sets :attr:`entered`)."""

        def hold() -> None:
            self.entered.set()
            assert self.release.wait(WAIT), "the test never released the background fit"

        self.hold = hold

    @property
    def on_request_path(self) -> int:
        return sum(t != "soundbridge-refit" for t in self.threads)


@pytest.fixture
def served(graph, monkeypatch) -> Iterator[_Fits]:
    """A cold served cache with fits counted; the experts' answers removed afterwards."""
    graph.execute_query(_CLEAR)
    monkeypatch.setattr(similar, "_SERVED", {})
    monkeypatch.setattr(similar, "_FLIGHTS", {})
    monkeypatch.setattr(similar, "_REFITS", {})
    monkeypatch.setattr(similar, "REFIT_INTERVAL_S", 0.0)
    fits = _Fits()
    fit = CrossCulturalRecommender.fit

    def counted(self: CrossCulturalRecommender, *args: Any, **kwargs: Any) -> Any:
        name = threading.current_thread().name
        fits.threads.append(name)
        if name == "soundbridge-refit":
            fits.hold()
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(CrossCulturalRecommender, "fit", counted)
    try:
        yield fits
    finally:
        fits.release.set()
        assert similar.wait_for_refits(WAIT)
        graph.execute_query(_CLEAR)


def _other_function(model: CrossCulturalRecommender, track: str) -> str:
    """A function ``track`` is *not* predicted to serve (so that a label visibly changes it)."""
    guess = model.query_function(model.catalogue_.index(track))[0]
    return next(c for c in model.function_model_.classes_ if c != guess)


@pytest.mark.neo4j
def test_an_answer_is_known_in_the_next_recommendation_and_the_refit_swaps_in(
    graph, served
) -> None:
    from kg.expert import answer_function

    fits = served
    before = similar.served_catalogue(graph)
    assert fits.threads == ["MainThread"] and not before.provisional_
    song = YAP[0]
    label = _other_function(before, song)
    fits.held()
    ans = answer_function(graph, song, label, expert="rosa", rationale="sung at weddings")
    on = ans.created[:10]

    got = similar.recommend_similar(song, "Central Andes", 5, driver=graph)
    assert got[0].details["query_function"] == label
    assert got[0].details["query_function_source"] == "label"
    assert got[0].details["query_label_source"] == "expert"
    assert f"The query's function is an expert label, by rosa on {on}." in got[0].explanation
    back = similar.recommend_similar(EWE, "CCMCyape1248", 50, driver=graph)
    hit = next(r for r in back if r.track_id == song)
    assert hit.function == label and hit.details["function_source"] == "expert"
    assert f"Its function is an expert label, by rosa on {on}." in hit.explanation
    # the refit started and is held inside its fit, so those answers came without one
    assert fits.entered.wait(WAIT)
    assert fits.on_request_path == 1 and fits.threads == ["MainThread", "soundbridge-refit"]
    patched = similar.served_catalogue(graph)
    assert patched.provisional_ and patched is not before
    assert patched.catalogue_.factors is before.catalogue_.factors  # only the answers were read

    fits.release.set()
    assert similar.wait_for_refits(WAIT)
    swapped = similar.served_catalogue(graph)
    assert swapped is not patched and not swapped.provisional_
    assert swapped.query_function(swapped.catalogue_.index(song))[0] == label
    assert swapped.label_origin(swapped.catalogue_.index(song)) == ("expert", "rosa", on)
    assert fits.threads == ["MainThread", "soundbridge-refit"]  # one refit, in the background


@pytest.mark.neo4j
def test_served_retraction_returns_the_song_to_its_prediction(graph, served) -> None:
    from kg.expert import answer_function, retract

    model = similar.served_catalogue(graph)
    song = YAP[1]
    row = model.catalogue_.index(song)
    guess = model.query_function(row)
    ans = answer_function(graph, song, _other_function(model, song), expert="tomas")
    assert similar.served_catalogue(graph).query_function(row)[2] == "label"
    retract(graph, ans.id, by="tomas")
    got = similar.recommend_similar(song, "Central Andes", 3, driver=graph)
    assert got[0].details["query_function_source"] == "predicted"
    assert got[0].details["query_function"] == guess[0]
    assert got[0].details["query_label_source"] is None
    assert "expert label" not in got[0].explanation
    assert similar.wait_for_refits(WAIT)
    final = similar.served_catalogue(graph)
    assert final.query_function(row)[::2] == (guess[0], "predicted")
    assert served.on_request_path == 1


@pytest.mark.neo4j
def test_a_tie_leaves_the_song_predicted(graph, served) -> None:
    from kg.expert import answer_function

    model = similar.served_catalogue(graph)
    song = YAP[2]
    row = model.catalogue_.index(song)
    guess = model.query_function(row)
    a, b = [c for c in model.function_model_.classes_ if c != guess[0]][:2]
    answer_function(graph, song, a, expert="rosa", confidence=0.6)
    answer_function(graph, song, b, expert="tomas", confidence=0.6)
    tied = similar.served_catalogue(graph)
    assert tied is not model  # the answers changed the stamp and were read ...
    assert tied.query_function(row) == guess  # ... and the tie leaves the prediction standing
    assert tied.label_origin(row) == ("", "", "")
    assert not tied.provisional_ and served.threads == ["MainThread"]  # nothing to refit
    answer_function(graph, song, a, expert="boss", confidence=0.1)  # a third answer breaks it
    assert similar.served_catalogue(graph).query_function(row)[::2] == (a, "label")


@pytest.mark.neo4j
def test_served_links_cannot_and_must(graph, served) -> None:
    from kg.expert import answer_link, retract

    plain = similar.recommend_similar(EWE, "Central Andes", 50, driver=graph)  # all 17
    best, last = plain[0].track_id, plain[-1].track_id
    cannot = answer_link(graph, EWE, best, "cannot_link", expert="boss", rationale="a parody")
    must = answer_link(graph, last, EWE, "must_link", expert="boss", rationale="the same tune")
    for k in (1, 10, 50):
        got = similar.recommend_similar(EWE, "Central Andes", k, driver=graph)
        assert best not in {r.track_id for r in got} and len(got) == min(k, len(plain) - 1)
        assert got[0].track_id == last
        assert got[0].explanation.startswith(
            "An expert says these are alike: the same tune (boss)."
        )
        assert got[0].details["expert_link"]["answer_id"] == must.id
    back = similar.recommend_similar(best, "Western Africa", 50, driver=graph)  # Ewe's region
    assert EWE not in {r.track_id for r in back} and len(back) > 1
    assert served.on_request_path == 1 and not similar._REFITS  # links change no label
    retract(graph, cannot.id, by="boss")
    assert similar.recommend_similar(EWE, "Central Andes", 2, driver=graph)[1].track_id == best


@pytest.mark.neo4j
def test_two_answers_during_a_refit_leave_the_final_model_consistent(graph, served) -> None:
    from kg.expert import answer_function
    from recsys.catalogue import load_catalogue

    fits = served
    model = similar.served_catalogue(graph)
    labels = {song: _other_function(model, song) for song in YAP}
    fits.held()
    answer_function(graph, YAP[0], labels[YAP[0]], expert="rosa")
    similar.served_catalogue(graph)
    assert fits.entered.wait(WAIT)  # the refit read the graph with one answer, and is held
    answer_function(graph, YAP[1], labels[YAP[1]], expert="rosa")
    answer_function(graph, YAP[2], labels[YAP[2]], expert="tomas")
    now = similar.served_catalogue(graph)
    for song in YAP:
        assert now.query_function(now.catalogue_.index(song))[::2] == (labels[song], "label")
    fits.hold = lambda: None
    fits.release.set()
    assert similar.wait_for_refits(WAIT)
    final = similar.served_catalogue(graph)
    assert not final.provisional_
    assert fits.threads == ["MainThread", "soundbridge-refit", "soundbridge-refit"]
    fresh = CrossCulturalRecommender().fit(load_catalogue(graph))
    for name in ("labels_", "predicted_", "distribution_", "embedding_"):
        assert np.array_equal(getattr(final, name), getattr(fresh, name)), name
    for song in YAP:
        assert final.label_origin(final.catalogue_.index(song))[0] == "expert"


@pytest.mark.neo4j
def test_a_concept_label_is_a_class_at_once(graph, served) -> None:
    from kg.expert import add_concept, answer_function

    song = YAP[0]
    similar.served_catalogue(graph)
    concept = add_concept(graph, "Stone money exchange chant", "sung when a stone disc changes "
                          "hands", expert="rosa", embedding=[1.0] + [0.0] * 383)  # fmt: skip
    answer_function(graph, song, concept.name, expert="rosa")
    got = similar.recommend_similar(song, "Central Andes", 3, driver=graph)
    assert got[0].details["query_function"] == "Stone money exchange chant"
    assert similar.wait_for_refits(WAIT)
    final = similar.served_catalogue(graph)
    assert "Stone money exchange chant" in final.function_model_.classes_
    assert final.query_function(final.catalogue_.index(song))[0] == "Stone money exchange chant"
    assert served.on_request_path == 1


@pytest.mark.neo4j
@pytest.mark.slow
def test_search_text_shows_an_expert_label_without_training(
    graph, served, tmp_path, monkeypatch
) -> None:
    from kg.expert import answer_function
    from recsys import text

    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(tmp_path))
    monkeypatch.setattr(text, "_SERVED", {})
    trained: list[int] = []
    fit = text.TextMusicEmbedding.fit

    def counted(self: text.TextMusicEmbedding, *args: Any, **kwargs: Any) -> Any:
        trained.append(len(args[0].catalogue_))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(text.TextMusicEmbedding, "fit", counted)
    song = YAP[0]
    label = _other_function(similar.served_catalogue(graph), song)
    query = f"a {text.function_phrase(label)}"
    first = text.search_text(query, 10, target_culture="Yapese", driver=graph)
    assert trained == [1007]
    assert next(r for r in first if r.track_id == song).details["function_source"] == "predicted"
    ans = answer_function(graph, song, label, expert="rosa")
    for _ in range(2):  # once over the relabelled model, once over the refitted one
        got = text.search_text(query, 10, target_culture="Yapese", driver=graph)
        hit = next(r for r in got if r.track_id == song)
        assert hit.function == label and hit.details["label_source"] == "expert"
        assert f"Function {label}: expert label, by rosa on {ans.created[:10]}." in hit.explanation
        assert any(c.startswith(query) for c in text.served_text_model(graph).captions_[
            similar.served_catalogue(graph).catalogue_.index(song)])  # fmt: skip
        assert similar.wait_for_refits(WAIT)
    assert trained == [1007]  # followed, never trained again
