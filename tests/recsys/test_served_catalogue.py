"""served_catalogue under load: one fit for concurrent cold callers, errors that reach every
waiter, and no waiting across parameters or drivers.

The tests run on the real CCMC songs and Culture tree with known-answer factors (z_a clustered by
public function, z_s by HRAF region). Fits are counted by wrapping
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

from audio.graph import store_factors
from kg.connection import connect
from kg.ingest import ingest
from recsys import similar
from recsys.similar import CrossCulturalRecommender, served_catalogue

DIM = 16
WAIT = 120.0  # seconds a test waits for threads before it gives up (never reached when it works)

# Test-only Cypher: what the known-answer factors are drawn from, and cleaning up.
_TRACKS = "MATCH (t:Track) RETURN t.id AS id, t.function AS function, t.hraf_region AS region"
_DELETE_USER_TRACKS = "MATCH (t:Track) WHERE t.id STARTS WITH 'user:' DETACH DELETE t"


# ---------------------------------------------------------------------- against the server
@pytest.fixture(scope="module")
def graph(neo4j_driver: neo4j.Driver, graph_wiper) -> neo4j.Driver:
    graph_wiper(neo4j_driver)
    ingest(neo4j_driver, sources=["ccmc", "cantometrics"], progress=False)
    records, _, _ = neo4j_driver.execute_query(_TRACKS)
    rows = sorted((r["id"], r["function"] or "", r["region"] or "") for r in records)
    rng = np.random.default_rng(0)
    fc = {f: 3.0 * rng.normal(size=DIM) for f in sorted({r[1] for r in rows})}
    fc[""] = np.zeros(DIM)
    rc = {g: 3.0 * rng.normal(size=DIM) for g in sorted({r[2] for r in rows})}
    n = len(rows)
    za = np.array([fc[r[1]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zs = np.array([rc[r[2]] for r in rows]) + 0.5 * rng.normal(size=(n, DIM))
    zc = rng.normal(size=(n, DIM))
    assert store_factors(neo4j_driver, [r[0] for r in rows], zc, zs, za) == 1007
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
