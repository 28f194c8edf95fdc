"""Reads go as READ transactions, so that a cluster can send them to its secondaries.

On a cluster the driver (with a ``neo4j://`` URI) sends a READ transaction to a secondary and a
WRITE one to the database's writer; ``driver.execute_query`` without ``routing_`` and a session
without ``default_access_mode`` are WRITE. The recorder below wraps the real driver's entry
points (nothing is mocked: every query still runs on the session server) and notes each query
with the access mode it was sent in, while the library's read paths run on the known-answer
graph; every query that does not write must have gone as READ.

The last tests connect to the same single server with a ``neo4j://`` URI: the driver then fetches
a routing table and routes by it, as it does against a cluster or Aura (one server is router,
reader and writer; this is not a cluster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import neo4j
import pytest

import recsys.queries
from audio.graph import factors_fingerprint, find_culture
from gnn.features import artist_tag_texts, culture_features, graph_track_factors
from kg import accounts, expert
from kg.connection import connect
from kg.cypher import read_records, run_read
from kg.export import to_networkx
from kg.server import Neo4jServer
from kg.stats import graph_counts
from recsys.catalogue import catalogue_stamp, count_tracks_with_factors, load_catalogue
from recsys.evaluate import artist_world_regions
from recsys.fastrp import FastRP
from recsys.similar import recommend_similar
from recsys.text import read_style_codes
from tests.recsys.contract import checkerboard
from tests.recsys.known_graph import build_known_graph

pytestmark = pytest.mark.neo4j

#: What may write, read conservatively: a query matching it is not held to READ.
WRITES = re.compile(
    r"\b(CREATE|MERGE|SET|DELETE|REMOVE|DROP)\b|gds\.graph\.project|\.mutate\b|\.write\b"
    r"|apoc\.create|LOAD\s+CSV|CALL\s+db\.create",
    re.IGNORECASE,
)

#: FastRP's GDS calls that only read but go with their projection to one server (the writer):
#: a projection lives in the memory of the server that made it (recsys/fastrp.py).
WITH_THE_PROJECTION = {
    recsys.queries.FASTRP_ESTIMATE,
    recsys.queries.JAVA_HEAP,
    recsys.queries.FASTRP_STREAM,
}

# Test-only Cypher: FastRP's users and artists, beside the known graph.
_NODES = """
UNWIND $users AS u MERGE (:User {id: u})
WITH count(*) AS done
UNWIND $artists AS a MERGE (:Artist {id: a})
"""
_COMPONENTS = """
CALL gds.graph.project('g', 'Culture', {PART_OF: {orientation: 'UNDIRECTED'}}) YIELD graphName
CALL gds.wcc.stream(graphName) YIELD nodeId, componentId
RETURN count(DISTINCT componentId) AS components
"""


@dataclasses.dataclass(frozen=True)
class Sent:
    """One query as the driver was asked to send it."""

    query: str
    mode: str  # "READ" or "WRITE"
    api: str

    @property
    def writes(self) -> bool:
        return WRITES.search(self.query) is not None


def _text(query: Any) -> str:
    return query.text if isinstance(query, neo4j.Query) else str(query)


def _mode(value: Any) -> str:
    return "READ" if value in (neo4j.READ_ACCESS, neo4j.RoutingControl.READ) else "WRITE"


@contextlib.contextmanager
def recording() -> Iterator[list[Sent]]:
    """Note every query sent through the public driver API inside the block, with its mode.

    ``execute_query`` runs its own session internally (not through ``Driver.session``), so its
    transaction is noted once, with ``routing_``.
    """
    sent: list[Sent] = []
    # session or transaction -> the mode its queries go in (weak: a new object never inherits)
    modes: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
    real_execute_query = neo4j.Driver.execute_query
    real_session = neo4j.Driver.session
    real_session_run = neo4j.Session.run
    real_begin = neo4j.Session.begin_transaction
    real_execute_read = neo4j.Session.execute_read
    real_execute_write = neo4j.Session.execute_write
    real_tx_run = neo4j.Transaction.run
    real_managed_run = neo4j.ManagedTransaction.run

    def execute_query(self: neo4j.Driver, query_: Any, *args: Any, **kwargs: Any) -> Any:
        routing = args[1] if len(args) > 1 else kwargs.get("routing_", neo4j.RoutingControl.WRITE)
        sent.append(Sent(_text(query_), _mode(routing), "execute_query"))
        return real_execute_query(self, query_, *args, **kwargs)

    def session(self: neo4j.Driver, **config: Any) -> neo4j.Session:
        s = real_session(self, **config)
        modes[s] = _mode(config.get("default_access_mode", neo4j.WRITE_ACCESS))
        return s

    def session_run(self: neo4j.Session, query: Any, *args: Any, **kwargs: Any) -> Any:
        if self in modes:
            sent.append(Sent(_text(query), modes[self], "Session.run"))
        return real_session_run(self, query, *args, **kwargs)

    def begin_transaction(self: neo4j.Session, *args: Any, **kwargs: Any) -> neo4j.Transaction:
        tx = real_begin(self, *args, **kwargs)
        if self in modes:
            modes[tx] = modes[self]
        return tx

    def managed(real: Callable[..., Any], mode: str) -> Callable[..., Any]:
        def execute(self: neo4j.Session, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
            def tagged(tx: neo4j.ManagedTransaction, *a: Any, **k: Any) -> Any:
                modes[tx] = mode
                return fn(tx, *a, **k)

            return real(self, tagged, *args, **kw)

        return execute

    def tx_run(real: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            if self in modes:
                sent.append(Sent(_text(query), modes[self], "Transaction.run"))
            return real(self, query, *args, **kwargs)

        return run

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(neo4j.Driver, "execute_query", execute_query)
        mp.setattr(neo4j.Driver, "session", session)
        mp.setattr(neo4j.Session, "run", session_run)
        mp.setattr(neo4j.Session, "begin_transaction", begin_transaction)
        mp.setattr(neo4j.Session, "execute_read", managed(real_execute_read, "READ"))
        mp.setattr(neo4j.Session, "execute_write", managed(real_execute_write, "WRITE"))
        mp.setattr(neo4j.Transaction, "run", tx_run(real_tx_run))
        mp.setattr(neo4j.ManagedTransaction, "run", tx_run(real_managed_run))
        yield sent


def _routed_as_writes(sent: list[Sent]) -> list[str]:
    """The queries that read only but went as WRITE, one line each."""
    return [
        f"{s.api}: {' '.join(s.query.split())[:160]}"
        for s in sent
        if s.mode == "WRITE" and not s.writes and s.query not in WITH_THE_PROJECTION
    ]


@pytest.fixture(scope="module")
def graph(neo4j_driver: neo4j.Driver, graph_wiper: Callable[[neo4j.Driver], None]) -> Any:
    graph_wiper(neo4j_driver)
    build_known_graph(neo4j_driver)
    neo4j_driver.execute_query(_NODES, users=list(range(8)), artists=list(range(8)))
    return neo4j_driver


def test_the_recorder_notes_the_mode_each_api_sends(graph: neo4j.Driver) -> None:
    with recording() as sent:
        graph.execute_query("RETURN 1 AS one", routing_=neo4j.RoutingControl.READ)
        graph.execute_query("RETURN 2 AS two")
        with graph.session(default_access_mode=neo4j.READ_ACCESS) as session:
            session.run("RETURN 3 AS three").consume()
            session.execute_write(lambda tx: tx.run("RETURN 4 AS four").consume())
            with session.begin_transaction() as tx:
                tx.run("RETURN 5 AS five").consume()
        with graph.session() as session:
            session.run("RETURN 6 AS six").consume()
            session.execute_read(lambda tx: tx.run("RETURN 7 AS seven").consume())
    assert [(s.query.split()[-1], s.mode) for s in sent] == [
        ("one", "READ"),
        ("two", "WRITE"),
        ("three", "READ"),
        ("four", "WRITE"),
        ("five", "READ"),
        ("six", "WRITE"),
        ("seven", "READ"),
    ]
    assert _routed_as_writes(sent) == [
        "execute_query: RETURN 2 AS two",
        "Transaction.run: RETURN 4 AS four",
        "Session.run: RETURN 6 AS six",
    ]


def test_the_server_holds_a_read_transaction_to_reading(graph: neo4j.Driver) -> None:
    # The mode reaches the server: it refuses a write sent as READ (a secondary would too).
    with pytest.raises(neo4j.exceptions.ClientError, match="(?i)read"):
        graph.execute_query("CREATE (:RoutingProbe)", routing_=neo4j.RoutingControl.READ)


def test_the_library_s_reads_go_as_read_transactions(graph: neo4j.Driver) -> None:
    with recording() as sent:
        assert graph_counts(graph).nodes["Track"] == 1007
        assert run_read(graph, "MATCH (t:Track) RETURN count(t) AS n").records() == [{"n": 1007}]
        assert run_read(graph, _COMPONENTS).records()[0]["components"] >= 1
        assert read_records(graph, "MATCH (c:Culture) RETURN count(c) AS n")[0]["n"] > 0
        assert to_networkx(graph).number_of_nodes() > 1007
        cat = load_catalogue(graph)
        assert len(cat) == 1007 == count_tracks_with_factors(graph)
        assert catalogue_stamp(graph)
        assert len(recommend_similar("NHS2-QAHO", "Central Andes", 5, driver=graph)) == 5
        assert read_style_codes(graph)
        assert find_culture(graph, "Ewe")["id"] == "CCMCewee1241"
        assert factors_fingerprint(graph)
        assert graph_track_factors(graph) is not None
        assert culture_features(graph) is not None
        assert artist_tag_texts(graph) == {}
        assert artist_world_regions(graph) is not None
        assert accounts.count_accounts(graph) == 0
        assert accounts.list_accounts(graph) == []
        assert accounts.get_account(graph, "nobody") is None
        assert expert.answers(graph) == []
        assert expert.constraints(graph) == []
        assert expert.expert_labels(graph) == {}
        assert expert.list_concepts(graph) == []
    assert len(sent) >= 20
    assert _routed_as_writes(sent) == []
    # the analyst's own query, projection included, is a read transaction from end to end
    assert {s.mode for s in sent if "gds." in s.query and "fastRP" not in s.query} == {"READ"}


def test_fastrp_reads_the_graph_as_read_and_keeps_its_projection_on_one_server(
    graph: neo4j.Driver,
) -> None:
    with recording() as sent:
        FastRP(embedding_dim=8, seed=0).fit(checkerboard(), driver=graph)
    assert _routed_as_writes(sent) == []
    modes = {s.query: s.mode for s in sent}
    assert modes[recsys.queries.FASTRP_GRAPH_SIZE] == "READ"
    gds = [recsys.queries.FASTRP_PROJECT, recsys.queries.FASTRP_STREAM, recsys.queries.FASTRP_DROP]
    assert [modes[q] for q in gds] == ["WRITE"] * 3


def _routed(server: Neo4jServer) -> Any:
    """The session server's settings with a ``neo4j://`` (routing) URI."""
    s = server.settings
    return dataclasses.replace(s, uri=f"neo4j://{s.host}:{s.port}")


def test_a_routing_uri_reads_and_writes_through_connect(
    neo4j_server: Neo4jServer, graph: neo4j.Driver
) -> None:
    with connect(_routed(neo4j_server)) as driver:
        assert isinstance(driver, neo4j.Neo4jDriver)  # the routing driver, not a direct one
        written = driver.execute_query(
            "CREATE (p:RoutingProbe {at: 1}) RETURN count(p) AS n"
        ).records[0]["n"]
        assert written == 1
        with recording() as sent:
            counts = graph_counts(driver)
            found = find_culture(driver, "Ewe")
        assert counts.nodes["RoutingProbe"] == 1 and counts.nodes["Track"] == 1007
        assert found["id"] == "CCMCewee1241"
        assert {s.mode for s in sent} == {"READ"}
        # the routing table the driver fetched: this one server reads and writes
        address = neo4j.Address((neo4j_server.settings.host, neo4j_server.settings.port))
        tables = driver._pool.routing_tables  # the driver's own record: no public accessor
        table = next(t for db, t in tables.items() if db not in (None, "system"))
        assert address in table.readers and address in table.writers
        deleted = driver.execute_query(
            "MATCH (p:RoutingProbe) DELETE p RETURN count(*) AS n"
        ).records[0]["n"]
        assert deleted == 1
