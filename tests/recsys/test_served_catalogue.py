"""served_catalogue under load and change: one fit for concurrent cold callers, errors that reach
every waiter, and tracks added with add_track folded into the served model instead of a refit.

The database tests run on the real CCMC songs and Culture tree with known-answer factors (z_a
clustered by public function, z_s by HRAF region), so a track copied from a labelled song is
predicted to serve that song's function. Fits are counted by wrapping
``CrossCulturalRecommender.fit``; the driver and the server are real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import neo4j
import numpy as np
import pytest

from audio.graph import add_track, store_factors
from kg.connection import connect
from recsys import similar
from recsys.catalogue import TrackCatalogue, added_rows, load_catalogue
from recsys.cultures import CultureResolver
from recsys.similar import CrossCulturalRecommender, served_catalogue
from tests.recsys.known_graph import DIM, build_known_graph

WAIT = 120.0  # seconds a test waits for threads before it gives up (never reached when it works)

# Test-only Cypher: what the known-answer factors are drawn from, and the changes the tests make.
_DELETE_USER_TRACKS = "MATCH (t:Track) WHERE t.id STARTS WITH 'user:' DETACH DELETE t"
_SET_ZA = "MATCH (t:Track {id: $id}) SET t.za = $za"
_LABEL = (
    "MATCH (t:Track {id: $id}), (f:Function {name: $function}) MERGE (t)-[:SERVES_FUNCTION]->(f)"
)
_UNLABEL = "MATCH (t:Track {id: $id})-[r:SERVES_FUNCTION]->() DELETE r"


# ---------------------------------------------------------------------- without the server
def _catalogue(ids: list[str], functions: list[str], factors: np.ndarray) -> TrackCatalogue:
    tree = CultureResolver.from_rows(
        [
            {"id": "W", "name": "World", "level": "world_region", "parent": None},
            {"id": "A", "name": "Alpha", "level": "society", "parent": "W"},
            {"id": "B", "name": "Beta", "level": "society", "parent": "W"},
        ],
        aliases={},
    )
    return TrackCatalogue(
        track_ids=np.array(ids),
        names=np.array(ids),
        cultures=np.array(["A" if int(t[1:]) % 2 else "B" for t in ids]),
        functions=np.array(functions),
        factors=factors.astype(np.float32),
        dims=(2, 2, 4),
        tree=tree,
    )


@pytest.fixture(scope="module")
def small() -> tuple[TrackCatalogue, TrackCatalogue]:
    """59 tracks, and the same plus three unlabelled ones (t005, t031 and the last, t061).

    Even tracks are dances from culture Beta, odd ones lullabies from Alpha; every third track
    has its function public.
    """
    rng = np.random.default_rng(1)
    n = 62
    truth = np.array(["Dance", "Lullaby"] * 31)
    factors = rng.normal(size=(n, 8))
    factors[:, 4:] += np.where(truth == "Dance", 3.0, -3.0)[:, None]
    ids = [f"t{i:03d}" for i in range(n)]
    labels = np.where(np.arange(n) % 3 == 0, truth, "")
    full = _catalogue(ids, labels.tolist(), factors)
    keep = np.setdiff1d(np.arange(n), [5, 31, 61])
    before = _catalogue([ids[i] for i in keep], labels[keep].tolist(), factors[keep])
    return before, full


def test_add_tracks_reaches_the_state_of_a_refit(small) -> None:
    before, after = small
    grown = CrossCulturalRecommender(max_points=8).fit(before)
    grown.recommend_similar("t000", "Beta", 3)  # plan Beta -> Beta: no track added there
    grown.recommend_similar("t000", "Alpha", 3)  # plan Beta -> Alpha: Alpha gains three
    kept = grown.aligner().plans_["B", "B"]
    assert added_rows(before, after).tolist() == [5, 31, 61]
    assert grown.add_tracks(after) is grown
    refit = CrossCulturalRecommender(max_points=8).fit(after)
    for name in ("labels_", "predicted_", "distribution_", "za_", "embedding_"):
        assert np.array_equal(getattr(grown, name), getattr(refit, name)), name
    assert grown.style_median_ == refit.style_median_
    plans = grown.aligner().plans_
    assert list(plans) == [("B", "B")] and plans["B", "B"].plan is kept.plan
    for query in ("t005", "t031", "t061", "t000", "t001"):
        for culture in ("Alpha", "Beta", "World"):
            assert grown.recommend_similar(query, culture, 5) == refit.recommend_similar(
                query, culture, 5
            ), (query, culture)
    # known answer: an unlabelled odd track is predicted to be a lullaby
    assert grown.query_function(after.index("t005"))[::2] == ("Lullaby", "predicted")


def test_add_tracks_refuses_what_it_cannot_fold_in(small) -> None:
    before, after = small
    model = CrossCulturalRecommender().fit(before)
    labelled = _catalogue(
        after.track_ids.tolist(),
        np.where(after.track_ids == "t005", "Dance", after.functions).tolist(),
        after.factors,
    )
    with pytest.raises(ValueError, match="refit"):
        model.add_tracks(labelled)  # a new track with a public function
    rewritten = after.factors.copy()
    rewritten[0, 0] += 1.0
    changed = _catalogue(after.track_ids.tolist(), after.functions.tolist(), rewritten)
    assert added_rows(before, changed) is None
    with pytest.raises(ValueError, match="refit"):
        model.add_tracks(changed)
    assert added_rows(after, before) is None  # tracks removed
    assert added_rows(before, before).tolist() == []


# ---------------------------------------------------------------------- against the server
@pytest.fixture(scope="module")
def graph(neo4j_driver: neo4j.Driver, graph_wiper) -> neo4j.Driver:
    graph_wiper(neo4j_driver)
    build_known_graph(neo4j_driver)
    return neo4j_driver


class _Fits:
    """Counts CrossCulturalRecommender.fit calls; ``before`` runs inside each one, first."""

    def __init__(self) -> None:
        self.calls = 0
        self.before: Callable[[CrossCulturalRecommender], None] = lambda model: None


class _Waiters:
    """Counts callers that wait on a refresh under way (``Future.result`` of served_catalogue)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def reach(self, n: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, timeout=WAIT)


@pytest.fixture
def served(graph, monkeypatch) -> Iterator[tuple[_Fits, _Waiters]]:
    """A cold served cache, fits counted, waiters counted; user tracks removed afterwards."""
    monkeypatch.setattr(similar, "_SERVED", {})
    monkeypatch.setattr(similar, "_FLIGHTS", {})
    fits, waiters = _Fits(), _Waiters()
    fit = CrossCulturalRecommender.fit

    def counted(self: CrossCulturalRecommender, *args: Any, **kwargs: Any) -> Any:
        fits.calls += 1
        fits.before(self)
        return fit(self, *args, **kwargs)

    class CountedFuture(Future[CrossCulturalRecommender]):
        def result(self, timeout: float | None = None) -> Any:
            with waiters.changed:
                waiters.count += 1
                waiters.changed.notify_all()
            return super().result(timeout)

    monkeypatch.setattr(CrossCulturalRecommender, "fit", counted)
    monkeypatch.setattr(similar, "Future", CountedFuture)
    try:
        yield fits, waiters
    finally:
        graph.execute_query(_DELETE_USER_TRACKS)


def _in_threads(n: int, call: Callable[[], Any]) -> list[Any]:
    """Run ``call`` in ``n`` threads released together; each one's result or exception."""
    start = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        start.wait(timeout=WAIT)
        try:
            out[i] = call()
        except Exception as e:  # the test inspects what each thread got
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT)
    assert not any(t.is_alive() for t in threads), "a caller never returned"
    return out


@pytest.mark.neo4j
@pytest.mark.reliability
def test_32_cold_callers_share_one_fit(graph, served) -> None:
    fits, waiters = served
    # the fit holds on until the 31 others wait for it, so each of them really joins it

    def hold(model: CrossCulturalRecommender) -> None:
        assert waiters.reach(31), "the other callers did not wait for the fit"

    fits.before = hold
    got = _in_threads(32, lambda: served_catalogue(graph))
    assert fits.calls == 1
    assert waiters.count == 31
    assert all(m is got[0] for m in got)
    assert isinstance(got[0], CrossCulturalRecommender) and len(got[0].catalogue_) == 1007
    assert served_catalogue(graph) is got[0] and fits.calls == 1  # and it stays served


@pytest.mark.neo4j
@pytest.mark.reliability
def test_a_failed_fit_reaches_every_waiter_and_is_not_kept(graph, served) -> None:
    fits, waiters = served

    def fail(model: CrossCulturalRecommender) -> None:
        waiters.reach(7)
        raise RuntimeError("the fit ran out of memory")

    fits.before = fail
    got = _in_threads(8, lambda: served_catalogue(graph))
    assert fits.calls == 1 and waiters.count == 7
    assert all(isinstance(e, RuntimeError) and "out of memory" in str(e) for e in got)
    assert similar._SERVED == {} and similar._FLIGHTS == {}
    fits.before = lambda model: None
    model = served_catalogue(graph)  # tried again, not answered from a cached failure
    assert fits.calls == 2 and len(model.catalogue_) == 1007


@pytest.mark.neo4j
@pytest.mark.reliability
def test_other_parameters_and_drivers_do_not_wait_for_a_fit(graph, served, neo4j_server) -> None:
    fits, _ = served
    entered, release = threading.Event(), threading.Event()

    def hold(model: CrossCulturalRecommender) -> None:
        if model.alignment == "unbalanced":  # only the default parameters' fit is held
            entered.set()
            release.wait(timeout=WAIT)

    fits.before = hold
    slow: Future[CrossCulturalRecommender] = Future()
    t = threading.Thread(target=lambda: slow.set_result(served_catalogue(graph)))
    t.start()
    try:
        assert entered.wait(timeout=WAIT)
        other = served_catalogue(graph, alignment="none")
        assert other.alignment == "none" and not slow.done()
        with connect(neo4j_server.settings) as driver:
            assert served_catalogue(driver, alignment="none") is not other  # its own model
        assert not slow.done()
    finally:
        release.set()
        t.join(timeout=WAIT)
    assert slow.result(timeout=WAIT).alignment == "unbalanced"
    assert fits.calls == 3


def _copy_of(cat: TrackCatalogue, world_region: str) -> tuple[str, str, np.ndarray]:
    """A labelled track of ``world_region`` (its id, society, factors)."""
    tree = cat.tree
    for i in np.flatnonzero(cat.labelled):
        society = str(cat.cultures[i])
        if society and tree.ancestor(society, "world_region") == world_region:
            return str(cat.track_ids[i]), society, cat.factors[i].astype(np.float64)
    raise AssertionError(f"no labelled track in {world_region}")


@pytest.mark.neo4j
def test_an_added_track_is_folded_in_without_a_fit(graph, served) -> None:
    fits, _ = served
    before = served_catalogue(graph)
    # a plan between two cultures the new track is not in: Ewe's region -> Central Andes
    warm = before.recommend_similar("NHS2-QAHO", "Central Andes", 10)
    plan_key = ("HRAF-western-africa", "HRAF-central-andes")
    kept_plan = before.aligner().plans_[plan_key]
    model_of, society, z = _copy_of(before.catalogue_, "WR-oceania")
    noise = np.random.default_rng(7).normal(scale=0.05, size=z.shape)
    z = z + noise
    add_track(graph, "user:added", name="added song", culture_id=society, audio="",
              zc=z[:DIM], zs=z[DIM : 2 * DIM], za=z[2 * DIM :])  # fmt: skip

    after = served_catalogue(graph)
    assert fits.calls == 1  # folded in, not refitted
    assert after is not before and len(before.catalogue_) == 1007  # the served one is untouched
    assert len(after.catalogue_) == 1008
    refit = CrossCulturalRecommender().fit(load_catalogue(graph))
    for name in ("labels_", "predicted_", "distribution_", "za_", "embedding_"):
        assert np.array_equal(getattr(after, name), getattr(refit, name)), name
    assert after.style_median_ == refit.style_median_
    # known answer: a copy of a labelled song is predicted to serve that song's function
    row = after.catalogue_.index("user:added")
    label = str(before.catalogue_.functions[before.catalogue_.index(model_of)])
    assert after.query_function(row)[::2] == (label, "predicted")
    # the untouched plan is carried over (renumbered), the new track's cultures are not cached
    carried = after.aligner().plans_
    assert list(carried) == [plan_key] and carried[plan_key].plan is kept_plan.plan
    again = after.recommend_similar("NHS2-QAHO", "Central Andes", 10)
    assert [(r.track_id, r.score) for r in again] == [(r.track_id, r.score) for r in warm]
    for query, culture in [
        ("NHS2-QAHO", "Central Andes"),
        ("user:added", "Central Andes"),
        ("NHS2-QAHO", society),
        ("NHS2-QAHO", str(after.catalogue_.tree.ancestor(society, "region"))),
        ("user:added", society),
    ]:
        got = after.recommend_similar(query, culture, 10)
        assert got == refit.recommend_similar(query, culture, 10), (query, culture)
    mates = after.recommend_similar("NHS2-QAHO", society, 50)
    assert "user:added" in {r.track_id for r in mates}
    assert fits.calls == 2  # the reference refit above, nothing else


def _remove_factors(graph: neo4j.Driver) -> Callable[[], object]:
    za = graph.execute_query("MATCH (t:Track {id: 'NHS2-TBMU'}) RETURN t.za AS za")[0][0]["za"]
    graph.execute_query(_SET_ZA, id="NHS2-TBMU", za=None)
    return lambda: graph.execute_query(_SET_ZA, id="NHS2-TBMU", za=za)


def _label_a_track(graph: neo4j.Driver) -> Callable[[], object]:
    cat = load_catalogue(graph)
    track = str(cat.track_ids[np.flatnonzero(~cat.labelled)[0]])
    graph.execute_query(_LABEL, id=track, function="Dance")
    return lambda: graph.execute_query(_UNLABEL, id=track)


def _rewrite_factors_and_add(graph: neo4j.Driver) -> Callable[[], object]:
    za = graph.execute_query("MATCH (t:Track {id: 'NHS2-TBMU'}) RETURN t.za AS za")[0][0]["za"]
    graph.execute_query(_SET_ZA, id="NHS2-TBMU", za=[-x for x in za])
    z = np.ones(DIM)
    add_track(graph, "user:with-rewrite", name="x", culture_id="CCMCewee1241", audio="",
              zc=z, zs=z, za=z)  # fmt: skip
    return lambda: graph.execute_query(_SET_ZA, id="NHS2-TBMU", za=za)


def _rewrite_factors(graph: neo4j.Driver) -> Callable[[], object]:
    # the counts stay as they were: only the factors' time tells (store_factors sets it)
    row = graph.execute_query(
        "MATCH (t:Track {id: 'NHS2-TBMU'}) RETURN t.zc AS zc, t.zs AS zs, t.za AS za"
    )[0][0]
    z = {k: np.asarray(row[k])[None] for k in ("zc", "zs", "za")}  # Shapes: (1, DIM)
    store_factors(graph, ["NHS2-TBMU"], z["zc"], z["zs"], -z["za"])
    return lambda: store_factors(graph, ["NHS2-TBMU"], z["zc"], z["zs"], z["za"])


def _add_a_labelled_track(graph: neo4j.Driver) -> Callable[[], object]:
    z = np.ones(DIM)
    add_track(graph, "user:labelled", name="x", culture_id="CCMCewee1241", audio="",
              zc=z, zs=z, za=z)  # fmt: skip
    graph.execute_query(_LABEL, id="user:labelled", function="Dance")
    return lambda: None


@pytest.mark.neo4j
@pytest.mark.parametrize(
    "change",
    [
        _remove_factors,
        _label_a_track,
        _rewrite_factors,
        _rewrite_factors_and_add,
        _add_a_labelled_track,
    ],
)
def test_any_other_change_refits(graph, served, change) -> None:
    fits, _ = served
    before = served_catalogue(graph)
    undo = change(graph)
    try:
        after = served_catalogue(graph)
        assert fits.calls == 2 and after is not before
        fresh = load_catalogue(graph)
        assert np.array_equal(after.catalogue_.factors, fresh.factors)
        assert np.array_equal(after.labels_, fresh.functions)
    finally:
        undo()
