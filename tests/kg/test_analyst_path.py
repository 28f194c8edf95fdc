"""The analysts' Cypher path: the allow-list (no server), and the limits against the real server."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from kg.cypher import (
    CypherError,
    QueryLimits,
    QueryRefused,
    QueryTimeout,
    QueryTooLarge,
    ReadOnlyViolation,
    check_allowed,
    read_records,
    run_read,
)
from loaders.errors import ConfigError
from soundbridge.cli import cli
from tests.conftest import cli_env, gds_catalog

REFUSED = [
    ("CALL dbms.listConfig()", "procedure dbms.listConfig"),
    ("call DBMS.LISTCONFIG", "procedure DBMS.LISTCONFIG"),
    ("CALL `dbms.listConfig`() YIELD name RETURN name", "procedure dbms.listConfig"),
    ("CALL `dbms` . /* hidden */ `listConfig`()", "procedure dbms.listConfig"),
    ("CALL dbms.killConnections(['bolt-1'])", "procedure dbms.killConnections"),
    ("CALL tx.setMetaData({a: 1})", "procedure tx.setMetaData"),
    ("CALL db.createLabel('X')", "procedure db.createLabel"),
    ("RETURN dbms.components()", "function dbms.components"),
    ("RETURN apoc.cypher.runFirstColumnSingle('MATCH (n) RETURN n', {})", "function apoc.cypher"),
    ("CALL apoc.load.json('file:///etc/passwd')", "procedure apoc.load.json"),
    ("LOAD CSV FROM 'http://127.0.0.1:1/x' AS r RETURN r", "LOAD CSV"),
    ("load /* x */ csv with headers from $url as r return r", "LOAD CSV"),
    ("SHOW TRANSACTIONS", "SHOW TRANSACTIONS"),
    ("SHOW TRANSACTIONS YIELD parameters RETURN parameters", "SHOW TRANSACTIONS"),
    ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "TERMINATE"),
    ("SHOW SETTINGS", "SHOW SETTINGS"),
    ("SHOW USERS", "SHOW USERS"),
    ("USE system SHOW USERS", "USE"),
    ("MATCH (n) CALL (n) { RETURN n AS m } IN TRANSACTIONS RETURN m", "IN TRANSACTIONS"),
    ("UNWIND [1] AS x CALL { WITH x RETURN x AS y } IN 2 CONCURRENT TRANSACTIONS RETURN y", "IN"),
]

# Graph Data Science: what would reach past the query's own projections, the database or the
# memory guard, and the refusal that names it.
_PROJECT = "CALL gds.graph.project('g', 'P', 'L') YIELD graphName "
GDS_REFUSED = [
    ("CALL gds.louvain.write('g', {writeProperty: 'c'})", ".write stores results in the graph"),
    ("CALL gds.pageRank.write.estimate('g', {writeProperty: 'c'})", ".write stores results"),
    ("CALL gds.graph.nodeProperties.write('g', ['c'])", ".write stores results"),
    ("CALL gds.graph.project.cypher('g', 'MATCH (n) RETURN id(n) AS id', '')", "Cypher given"),
    ("MATCH (a)-->(b) RETURN gds.graph.project('g', a, b)", "as a function (Cypher aggregation)"),
    ("CALL gds.graph.generate('g', 100000000, 100)", "procedure gds.graph.generate is not open"),
    ("CALL gds.graph.export('g', {dbName: 'copy'})", "procedure gds.graph.export is not open"),
    ("CALL gds.alpha.allShortestPaths.stream('g')", "procedure gds.alpha.allShortestPaths"),
    (
        _PROJECT + "CALL gds.wcc.stream('other') YIELD nodeId RETURN nodeId",
        "graph 'other' is not projected by this query",
    ),
    ("CALL gds.pageRank.stream('g') YIELD nodeId RETURN nodeId", "graph 'g' is not projected"),
    ("CALL gds.graph.drop('someone_elses')", "graph 'someone_elses' is not projected"),
    (
        "CALL gds.graph.list() YIELD graphName "
        "CALL gds.graph.drop(graphName) YIELD schema RETURN 1",
        "gds.graph.drop must name a graph this query projected",
    ),
    (
        _PROJECT + "WITH 'ops' AS graphName CALL gds.graph.drop(graphName) YIELD schema RETURN 1",
        "gds.graph.drop must name a graph this query projected",
    ),
    (
        "CALL gds.graph.project('g', 'P', 'L') YIELD graphName, nodeCount AS g "
        "CALL gds.wcc.stream(g) YIELD nodeId RETURN nodeId",
        "gds.wcc.stream must name a graph this query projected",
    ),
    (
        "CALL gds.graph.project($name, 'P', 'L') YIELD graphName RETURN graphName",
        "needs the new graph's name as a string",
    ),
    ("CALL gds.graph.project('g', 'P') YIELD graphName RETURN graphName", "takes a name, the node"),
    (
        _PROJECT + "CALL gds.wcc.stream(graphName, apoc.map.setKey({}, 'su' + 'do', true)) "
        "YIELD nodeId RETURN nodeId",
        "configuration of gds.wcc.stream must be written as a map",
    ),
    (
        _PROJECT + "WITH graphName, {concurrency: 1} AS config "
        "CALL gds.wcc.stream(graphName, config) YIELD nodeId RETURN nodeId",
        "configuration of gds.wcc.stream must be written as a map",
    ),
    (
        _PROJECT + "RETURN [graphName IN ['ops'] | gds.util.nodeProperty(graphName, 0, 'p')]",
        "gds.util.nodeProperty must name a graph this query projected",
    ),
    (
        "CALL gds.graph.project('g', 'P', 'L', {sudo: true}) YIELD graphName RETURN graphName",
        "sudo is not open to analysts",
    ),
    (
        _PROJECT + "CALL gds.fastRP.stream(graphName, {embeddingDimension: 8, SUDO: true}) "
        "YIELD nodeId RETURN nodeId",
        "sudo is not open to analysts",
    ),
]

GDS_ALLOWED = [
    _PROJECT + "CALL gds.louvain.stream(graphName) YIELD nodeId, communityId RETURN communityId",
    "CALL gds.graph.project('g', 'P', 'L') YIELD graphName AS g "
    "CALL gds.wcc.stats(g) YIELD componentCount RETURN componentCount",
    _PROJECT + "CALL gds.pageRank.stream('g') YIELD nodeId RETURN nodeId",  # its own, by name
    _PROJECT + "CALL gds.fastRP.mutate(graphName, {embeddingDimension: 8, mutateProperty: 'e'}) "
    "YIELD nodePropertiesWritten CALL gds.knn.stream(graphName, {nodeProperties: ['e']}) "
    "YIELD node1 RETURN count(*)",
    _PROJECT + "CALL gds.graph.drop(graphName) YIELD schema RETURN 1",
    "CALL gds.graph.list() YIELD graphName RETURN graphName",
    "MATCH (a:P {name: 'a'}) CALL gds.graph.project('g', 'P', 'L') YIELD graphName "
    "CALL gds.bfs.stream(graphName, {sourceNode: a, maxDepth: 2}) YIELD path RETURN path",
    "CALL gds.graph.project.estimate('P', 'L') YIELD requiredMemory RETURN requiredMemory",
    "CALL gds.pageRank.stream.estimate({nodeProjection: 'P', relationshipProjection: 'L'}, {}) "
    "YIELD requiredMemory RETURN requiredMemory",
    "RETURN gds.similarity.cosine([1.0, 0.0], [1.0, 0.0]) AS s, gds.version() AS v",
    "RETURN 'CALL gds.louvain.write(1)' AS text",
]

ALLOWED = [
    "MATCH (t:Track) RETURN toLower(t.name) AS n LIMIT 5",
    "RETURN 'CALL dbms.listConfig()' AS text",  # inside a string
    "// CALL dbms.listConfig()\nRETURN 1",  # inside a comment
    "MATCH (n {use: 1}) RETURN n.use, n.terminate, $transactions",  # keys and parameters
    "CALL db.labels()",
    "CALL db.labels YIELD label RETURN label",
    "SHOW INDEXES",
    "SHOW ALL CONSTRAINTS",
    "SHOW BUILTIN FUNCTIONS",
    "RETURN vector.similarity.cosine([1.0, 0.0], [1.0, 0.0]) AS s",
    "RETURN date.truncate('month', date('2026-12-06')) AS d, duration.between(date(), date())",
    "CALL { MATCH (n) RETURN n } RETURN count(n)",
    "MATCH (a) CALL (a) { RETURN 1 AS x } RETURN x",
    "RETURN 1.5e3 AS x",
]


@pytest.mark.parametrize(("query", "named"), REFUSED)
def test_refused_statement_classes_are_named(query, named):
    with pytest.raises(QueryRefused, match="not open to analysts") as info:
        check_allowed(query)
    assert named in str(info.value)


@pytest.mark.parametrize("query", ALLOWED)
def test_ordinary_queries_pass_the_allow_list(query):
    check_allowed(query)


@pytest.mark.parametrize(("query", "named"), GDS_REFUSED)
def test_gds_calls_beyond_the_query_s_own_graphs_are_refused_by_name(query, named):
    with pytest.raises(QueryRefused) as info:
        check_allowed(query)
    assert named in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("query", GDS_ALLOWED)
def test_gds_on_the_query_s_own_projection_passes(query):
    check_allowed(query)


# Refusals name what to do instead, briefly: the closest allowed name for a typo, only the modes
# that exist for .write, no projection advice for a drop (without a server, a refusal cannot tell
# a typo from a real procedure; run_read can, see the tests against the server below).
REFUSAL_MESSAGES = [
    (
        "CALL db.lables()",
        "procedure db.lables is not open to analysts; did you mean db.labels? "
        "(what analysts may call: docs/cypher.md#limits)",
    ),
    (
        "CALL gds.graph.nodeProperties.write('g', ['pr'])",
        "procedure gds.graph.nodeProperties.write is not open to analysts: .write stores results "
        "in the graph, and analysts' queries are read-only; use gds.graph.nodeProperties.stream "
        "(rows)",
    ),
    (
        "CALL gds.louvain.write('g', {writeProperty: 'c'})",
        "procedure gds.louvain.write is not open to analysts: .write stores results in the "
        "graph, and analysts' queries are read-only; use gds.louvain.stream (rows), .stats (a "
        "summary) or .mutate (into the query's own projection)",
    ),
    (
        "CALL gds.shortestPath.dijkstra.write.estimate('g', {})",
        "procedure gds.shortestPath.dijkstra.write.estimate is not open to analysts: .write "
        "stores results in the graph, and analysts' queries are read-only; use "
        "gds.shortestPath.dijkstra.stream (rows) or .mutate (into the query's own projection)",
    ),
    (
        "CALL gds.graph.drop('recsys_fastrp')",
        "graph 'recsys_fastrp' is not projected by this query, and a query may drop only the "
        "graphs it projects (which are dropped when it ends anyway); remove the gds.graph.drop "
        "call",
    ),
]


@pytest.mark.parametrize(("query", "message"), REFUSAL_MESSAGES)
def test_refusals_say_what_to_do_instead_in_one_short_line(query, message):
    with pytest.raises(QueryRefused) as info:
        check_allowed(query)
    assert str(info.value) == message


def test_a_graph_s_name_may_be_aliased_in_the_yield_that_binds_it():
    two = (
        "CALL gds.graph.project('a', 'P', 'L') YIELD graphName AS g1 "
        "CALL gds.graph.project('b', 'P', 'L') YIELD graphName AS g2 "
        "CALL gds.wcc.stats(g1) YIELD componentCount AS ca "
        "CALL gds.wcc.stats(g2) YIELD componentCount AS cb RETURN ca, cb"
    )
    check_allowed(two)
    with pytest.raises(QueryRefused, match="not bound again by WITH, UNWIND or another YIELD"):
        check_allowed(two.replace("CALL gds.wcc.stats(g2)", "WITH g1 AS g2 CALL gds.wcc.stats(g2)"))


def test_sudo_is_refused_in_a_configuration_given_as_a_parameter():
    query = _PROJECT + "CALL gds.wcc.stream(graphName, $config) YIELD nodeId RETURN nodeId"
    check_allowed(query, {"config": {"concurrency": 1}})
    with pytest.raises(QueryRefused, match="sudo is not open to analysts"):
        check_allowed(query, {"config": {"Sudo": True}})


def test_limits_come_from_the_environment_and_bad_values_name_the_variable():
    env = {
        "SOUNDBRIDGE_QUERY_TIMEOUT": "2.5",
        "SOUNDBRIDGE_QUERY_MAX_ROWS": "7",
        "SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES": "5000000",
    }
    assert QueryLimits.from_env(env) == QueryLimits(
        timeout=2.5, max_rows=7, max_bytes=10_000_000, max_projection_bytes=5_000_000
    )
    assert QueryLimits.from_env({}) == QueryLimits(
        timeout=30.0, max_rows=1000, max_projection_bytes=200_000_000
    )
    for name, bad in [
        ("SOUNDBRIDGE_QUERY_TIMEOUT", "soon"),
        ("SOUNDBRIDGE_QUERY_MAX_ROWS", "0"),
        ("SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES", "-1"),
    ]:
        with pytest.raises(ConfigError, match=f"{name}='{bad}': not a positive number"):
            QueryLimits.from_env({name: bad})


# -- against the real server --------------------------------------------------------------------


@pytest.mark.neo4j
@pytest.mark.reliability
def test_a_runaway_query_stops_at_the_timeout_while_the_server_answers_others(neo4j_db):
    cartesian = "UNWIND range(1, 100000) AS a UNWIND range(1, 100000) AS b RETURN count(*)"
    outcome: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        try:
            run_read(neo4j_db, cartesian, limits=QueryLimits(timeout=2.0))
        except CypherError as e:
            outcome["error"] = e
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)
    answered = time.monotonic()
    assert run_read(neo4j_db, "RETURN 1 AS one").rows == [[1]]  # the server still answers
    assert time.monotonic() - answered < 1.0
    thread.join(timeout=30)
    assert isinstance(outcome["error"], QueryTimeout)
    assert str(outcome["error"]) == (
        "the query ran longer than 2 s, the limit for analysts' queries "
        "(SOUNDBRIDGE_QUERY_TIMEOUT); add LIMIT or narrow the MATCH, or raise "
        "SOUNDBRIDGE_QUERY_TIMEOUT"
    )
    assert 1.5 < float(outcome["seconds"]) < 10  # type: ignore[arg-type]
    # and the server ended it: no transaction of that query is left running
    left = neo4j_db.execute_query(
        "SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery = $q RETURN count(*) AS n",
        q=cartesian,
    ).records[0]["n"]
    assert left == 0


@pytest.mark.neo4j
def test_results_are_cut_at_rows_and_bytes_with_a_notice(neo4j_db):
    rows = run_read(neo4j_db, "UNWIND range(1, 5000) AS x RETURN x")
    assert len(rows.rows) == 1000 and rows.rows[-1] == [1000]
    assert rows.notice is not None and "truncated at 1,000 rows" in rows.notice
    assert "SOUNDBRIDGE_QUERY_MAX_ROWS=1000" in rows.notice
    whole = run_read(neo4j_db, "UNWIND range(1, 10) AS x RETURN x")
    assert len(whole.rows) == 10 and whole.notice is None and not whole.truncated
    small = QueryLimits(max_bytes=2_000)
    cut = run_read(neo4j_db, "UNWIND range(1, 500) AS x RETURN x, 'abcdefghij' AS s", limits=small)
    assert 0 < len(cut.rows) < 500 and cut.notice is not None
    assert "the result may hold 2.0 KB (SOUNDBRIDGE_QUERY_MAX_BYTES=2000)" in cut.notice
    asked = run_read(neo4j_db, "UNWIND range(1, 50) AS x RETURN x", limit=5)
    assert len(asked.rows) == 5 and asked.notice == "truncated at 5 rows (the limit asked for)"


@pytest.mark.neo4j
@pytest.mark.reliability
def test_one_row_larger_than_the_byte_cap_is_refused_not_kept(neo4j_db):
    big = "RETURN [x IN range(1, 200000) | 'value ' + toString(x)] AS everything"
    with pytest.raises(
        QueryTooLarge, match=r"row 1 of the result is larger than the 1.0 MB .*MAX_BYTES"
    ):
        run_read(neo4j_db, big, limits=QueryLimits(max_bytes=1_000_000))


@pytest.mark.neo4j
def test_writes_and_refusals_reach_the_caller_as_cypher_errors(neo4j_db):
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        run_read(neo4j_db, "CREATE (:Mark {name: 'x'})")
    with pytest.raises(QueryRefused):
        run_read(neo4j_db, "CALL dbms.listConfig()")
    with pytest.raises(CypherError, match="Neo.ClientError.Statement.SyntaxError"):
        run_read(neo4j_db, "MATCH (n RETURN n")
    assert neo4j_db.execute_query("MATCH (m:Mark) RETURN count(m) AS n").records[0]["n"] == 0


@pytest.mark.neo4j
def test_the_local_server_caps_memory_and_blocks_urls(neo4j_server):
    conf = (neo4j_server.conf_dir / "neo4j.conf").read_text()
    assert "db.memory.transaction.max=1024m" in conf  # half the default 2g heap
    assert "internal.dbms.cypher_ip_blocklist=0.0.0.0/0,::/0" in conf


@pytest.mark.neo4j
@pytest.mark.reliability
def test_a_query_over_the_memory_cap_fails_alone_with_the_limit_named(neo4j_server_factory):
    from kg.connection import connect

    server = neo4j_server_factory()  # 768m heap: each transaction may use 384m
    server.start(timeout=180, die_with_parent=True)
    assert "db.memory.transaction.max=384m" in (server.conf_dir / "neo4j.conf").read_text()
    with connect(server.settings) as driver:
        hog = "UNWIND range(1, 40000000) AS x WITH collect(x) AS xs RETURN size(xs) AS n"
        with pytest.raises(QueryTooLarge, match=r"db\.memory\.transaction\.max"):
            run_read(driver, hog)
        assert run_read(driver, "RETURN 1 AS one").rows == [[1]]  # the server lives on


# -- Graph Data Science on the analyst path, against the real server ---------------------------

#: Two triangles joined by one edge: WCC finds one component, and every node is in a graph
#: small enough for any limit.
_TRIANGLES = """
CREATE (a:P {name: 'a'}), (b:P {name: 'b'}), (c:P {name: 'c'}),
       (d:P {name: 'd'}), (e:P {name: 'e'}), (f:P {name: 'f'}),
       (a)-[:L]->(b), (b)-[:L]->(c), (c)-[:L]->(a),
       (d)-[:L]->(e), (e)-[:L]->(f), (f)-[:L]->(d), (c)-[:L]->(d)
"""
#: 20,000 nodes and 200,000 relationships (a fixed pseudo-random wiring): betweenness on it
#: takes minutes, PageRank with a million iterations longer.
_BIG = """
UNWIND range(0, 19999) AS i CREATE (:P {i: i})
WITH count(*) AS made
MATCH (p:P) WITH collect(p) AS ps
UNWIND range(0, 199999) AS k
WITH ps[k % 20000] AS a, ps[(k * 7919 + 13) % 20000] AS b
CREATE (a)-[:L]->(b)
"""
_WCC = (
    "CALL gds.graph.project('g', 'P', {L: {orientation: 'UNDIRECTED'}}) YIELD graphName "
    "CALL gds.wcc.stream(graphName) YIELD nodeId, componentId "
    "RETURN graphName, count(DISTINCT componentId) AS components, count(nodeId) AS nodes"
)


_catalog = gds_catalog


def _drop_every_graph(driver) -> None:
    """Test cleanup: a test that failed half-way must not leave the next one a projection."""
    driver.execute_query(
        "CALL gds.graph.list() YIELD graphName "
        "CALL gds.graph.drop(graphName, false) YIELD graphName AS dropped RETURN count(dropped)"
    )


@pytest.mark.neo4j
def test_a_projection_is_the_query_s_own_and_is_dropped_when_it_ends(neo4j_db):
    neo4j_db.execute_query(_TRIANGLES)
    (row,) = run_read(neo4j_db, _WCC).records()
    assert (row["components"], row["nodes"]) == (1, 6)
    # its own name: not the one written, so that two analysts' 'g' never collide
    assert row["graphName"].startswith("analyst:") and row["graphName"].endswith(":g")
    assert _catalog(neo4j_db) == []
    # dropped after an error too (a weight property the graph does not have)
    failing = _WCC.replace(
        "wcc.stream(graphName)", "wcc.stream(graphName, {relationshipWeightProperty: 'nope'})"
    )
    with pytest.raises(CypherError, match="weight property `nope` not found"):
        run_read(neo4j_db, failing)
    assert _catalog(neo4j_db) == []
    # the same literal later in the query names the same (own) graph
    by_name = _WCC.replace("wcc.stream(graphName)", "wcc.stream('g')")
    assert run_read(neo4j_db, by_name).records()[0]["nodes"] == 6


@pytest.mark.neo4j
def test_two_analysts_project_the_same_name_at_once(neo4j_db):
    neo4j_db.execute_query(_TRIANGLES)
    # the projection lives while the query counts, so the two are in the catalog together
    slow = _WCC.replace(
        "YIELD graphName ",
        "YIELD graphName UNWIND range(1, 2000000) AS x WITH graphName, count(x) AS counted ",
    )
    start = threading.Barrier(2)
    names: list[str] = []
    errors: list[Exception] = []

    def analyst() -> None:
        start.wait()
        try:
            names.append(run_read(neo4j_db, slow).records()[0]["graphName"])
        except CypherError as e:
            errors.append(e)

    threads = [threading.Thread(target=analyst) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(set(names)) == 2
    assert _catalog(neo4j_db) == []


@pytest.mark.neo4j
def test_a_projection_over_the_limit_is_refused_before_it_is_made(neo4j_db):
    neo4j_db.execute_query(_TRIANGLES)
    with pytest.raises(QueryTooLarge) as info:
        run_read(neo4j_db, _WCC, limits=QueryLimits(max_projection_bytes=500))
    message = str(info.value)
    assert "the projection 'g' (6 nodes" in message
    # a cap under a kilobyte in bytes, not "0.0 MB"
    assert "may take 500 bytes (SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES=500)" in message
    assert "raise SOUNDBRIDGE_QUERY_MAX_PROJECTION_BYTES" in message
    assert "\n" not in message
    assert _catalog(neo4j_db) == []
    assert run_read(neo4j_db, _WCC).records()[0]["nodes"] == 6  # within the default


@pytest.mark.neo4j
def test_gds_memory_guard_refuses_an_algorithm_larger_than_the_heap(neo4j_db):
    neo4j_db.execute_query(_TRIANGLES)
    huge = (
        "CALL gds.graph.project('g', 'P', 'L') YIELD graphName "
        "CALL gds.fastRP.stream(graphName, {embeddingDimension: 200000000}) YIELD nodeId "
        "RETURN count(nodeId)"
    )
    with pytest.raises(QueryTooLarge) as info:
        run_read(neo4j_db, huge)
    message = str(info.value)
    assert "memory guard refused FastRP" in message and "SOUNDBRIDGE_NEO4J_HEAP_MAX" in message
    assert "\n" not in message
    assert _catalog(neo4j_db) == []


@pytest.mark.neo4j
@pytest.mark.reliability
@pytest.mark.parametrize(
    "algorithm",
    [
        # fails with GDS's TerminatedException when it notices the end of its transaction
        "gds.pageRank.stream(graphName, {maxIterations: 1000000, tolerance: 0.0})",
        # stops early and streams what it has: rows that must not be taken for an answer
        "gds.betweenness.stream(graphName)",
    ],
)
def test_the_timeout_stops_a_long_algorithm_and_drops_its_graph(neo4j_db, algorithm):
    neo4j_db.execute_query(_BIG)
    query = (
        "CALL gds.graph.project('big', 'P', {L: {orientation: 'UNDIRECTED'}}) YIELD graphName "
        f"CALL {algorithm} YIELD nodeId RETURN count(nodeId) AS n"
    )
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as info:
        run_read(neo4j_db, query, limits=QueryLimits(timeout=1.0))
    # GDS looks at its transaction every 10 s
    assert time.monotonic() - started < 30
    # an algorithm is not helped by LIMIT: a smaller projection or a longer limit is
    assert str(info.value) == (
        "the query ran longer than 1 s, the limit for analysts' queries "
        "(SOUNDBRIDGE_QUERY_TIMEOUT); project a smaller graph (fewer labels or relationship "
        "types) or ask the algorithm for less (fewer iterations, a smaller topK or "
        "embeddingDimension), or raise SOUNDBRIDGE_QUERY_TIMEOUT"
    )
    assert _catalog(neo4j_db) == []
    left = neo4j_db.execute_query(
        "SHOW TRANSACTIONS YIELD currentQuery WHERE currentQuery CONTAINS $algorithm "
        "RETURN count(*) AS n",
        algorithm=algorithm,
    ).records[0]["n"]
    assert left == 0  # the server ended it


@pytest.mark.neo4j
def test_a_graph_left_by_a_dead_process_is_dropped_once_its_deadline_passed(neo4j_db):
    neo4j_db.execute_query(_TRIANGLES)
    live = f"analyst:{int(time.time()) + 3600}:00000000:live"
    for name in ("analyst:1:00000000:left", live, "someone-elses"):
        neo4j_db.execute_query(
            "CALL gds.graph.project($name, 'P', 'L') YIELD graphName RETURN graphName", name=name
        )
    try:
        run_read(neo4j_db, _WCC)
        assert sorted(_catalog(neo4j_db)) == sorted([live, "someone-elses"])
    finally:
        neo4j_db.execute_query(
            "UNWIND $names AS name CALL gds.graph.drop(name, false) YIELD graphName "
            "RETURN graphName",
            names=[live, "someone-elses", "analyst:1:00000000:left"],
        )


@pytest.mark.neo4j
@pytest.mark.reliability
def test_ctrl_c_in_the_command_line_drops_the_projection(neo4j_server, neo4j_db):
    neo4j_db.execute_query(_BIG)
    env = cli_env(neo4j_server.settings)
    query = (
        "CALL gds.graph.project('big', 'P', 'L') YIELD graphName "
        "CALL gds.pageRank.stream(graphName, {maxIterations: 1000000, tolerance: 0.0}) "
        "YIELD nodeId RETURN count(nodeId) AS n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "soundbridge.cli", "cypher", query],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and
        # Python then leaves it ignored: give the command a terminal's default, as a user has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not any(n.startswith("analyst:") for n in _catalog(neo4j_db)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        # The command drops its projection before it exits, once GDS has noticed the end of the
        # query (it checks every 10 s).
        _, err = proc.communicate(timeout=120)
        left = _catalog(neo4j_db)
    finally:
        proc.kill()
        proc.wait()
        _drop_every_graph(neo4j_db)
    assert (proc.returncode, err.strip()) == (130, "aborted")
    assert left == []


# -- what the server says about a query, in the analyst's own terms ---------------------------

#: Two societies in a region: labels Culture, relationship type PART_OF, properties name, level.
_CULTURES = """
CREATE (r:Culture {name: 'West Africa', level: 'region'}),
       (:Culture {name: 'Ewe', level: 'society'})-[:PART_OF]->(r),
       (:Culture {name: 'Akan', level: 'society'})-[:PART_OF]->(r)
"""
_PROJECT_CULTURES = "CALL gds.graph.project('c', 'Culture', 'PART_OF') YIELD graphName "


@pytest.mark.neo4j
def test_misspelled_names_are_warned_about_not_answered_with_silence(neo4j_db):
    neo4j_db.execute_query(_CULTURES)
    label = run_read(neo4j_db, "MATCH (c:Cultur {level: 'society'}) RETURN c.name")
    assert label.rows == [] and not label.truncated
    assert label.notice == (
        "warning: the graph has no label Cultur (line 1, column 10); did you mean Culture? "
        "(labels: Culture)"
    )
    assert label.warnings == (label.notice.removeprefix("warning: "),)
    prop = run_read(neo4j_db, "MATCH (c:Culture)\nWHERE c.levle = 'society' RETURN c.name")
    assert prop.rows == []
    assert prop.notice == (
        "warning: the graph has no property levle (line 2, column 9); did you mean level? "
        "(CALL db.propertyKeys() lists them all)"
    )
    rel = run_read(neo4j_db, "MATCH (:Culture)-[:PART_FO]->(r) RETURN r.name")
    assert rel.notice == (
        "warning: the graph has no relationship type PART_FO (line 1, column 20); did you mean "
        "PART_OF? (relationship types: PART_OF)"
    )
    # spelled right: no notice at all
    assert run_read(neo4j_db, "MATCH (c:Culture {level: 'society'}) RETURN c.name").notice is None


@pytest.mark.neo4j
def test_a_warning_reaches_a_result_cut_at_a_cap_and_the_cut_is_still_said(neo4j_db):
    neo4j_db.execute_query(_CULTURES)
    cut = run_read(neo4j_db, "UNWIND range(1, 10) AS x MATCH (c:Culture) RETURN c.nmae", limit=2)
    assert len(cut.rows) == 2 and cut.truncated
    assert cut.notice == (
        "warning: the graph has no property nmae (line 1, column 53); did you mean name? "
        "(CALL db.propertyKeys() lists them all); truncated at 2 rows (the limit asked for)"
    )


@pytest.mark.neo4j
def test_warnings_in_a_projecting_query_point_into_the_text_the_analyst_wrote(neo4j_db):
    neo4j_db.execute_query(_CULTURES)
    result = run_read(neo4j_db, _PROJECT_CULTURES + "MATCH (x:Cultre) RETURN graphName, x")
    assert result.rows == []
    # "Cultre" is at column 76 of the query as written; the server was sent a longer text
    assert result.notice == (
        "warning: the graph has no label Cultre (line 1, column 76); did you mean Culture? "
        "(labels: Culture)"
    )


@pytest.mark.neo4j
def test_the_project_s_own_queries_stay_quiet(neo4j_db, caplog):
    neo4j_db.execute_query(_CULTURES)
    with caplog.at_level(logging.DEBUG, logger="neo4j"):
        assert read_records(neo4j_db, "MATCH (c:Cultur) RETURN c.name AS name") == []
    assert not [r for r in caplog.records if r.name == "neo4j.notifications"]


@pytest.mark.neo4j
def test_server_errors_quote_the_query_as_written_in_one_line(neo4j_db):
    neo4j_db.execute_query(_CULTURES)
    # no RETURN after the algorithm: the server saw "$soundbridge_graph_0" where 'c' is written
    with pytest.raises(CypherError) as info:
        run_read(neo4j_db, _PROJECT_CULTURES + "CALL gds.wcc.stream(graphName) YIELD nodeId")
    assert str(info.value) == (
        "Neo.ClientError.Statement.SyntaxError: Query cannot conclude with CALL together with "
        "YIELD (line 1, column 67)"
    )
    with pytest.raises(CypherError) as info:
        run_read(neo4j_db, "MATCH (n)\nWHERE n.x = 1\nRETURN m")
    assert str(info.value) == (
        "Neo.ClientError.Statement.SyntaxError: Variable `m` not defined (line 3, column 8)"
    )
    assert _catalog(neo4j_db) == []


@pytest.mark.neo4j
def test_a_misspelled_label_or_type_in_a_projection_names_the_ones_there_are(neo4j_db):
    neo4j_db.execute_query(_CULTURES)
    with pytest.raises(CypherError) as info:
        run_read(neo4j_db, _PROJECT_CULTURES.replace("'Culture'", "'Cultur'") + "RETURN 1")
    assert str(info.value) == (
        "gds.graph.project: the graph has no label Cultur; did you mean Culture? (labels: Culture)"
    )
    with pytest.raises(CypherError) as info:
        run_read(neo4j_db, _PROJECT_CULTURES.replace("'PART_OF'", "'PART_FO'") + "RETURN 1")
    assert str(info.value) == (
        "gds.graph.project: the graph has no relationship type PART_FO; did you mean PART_OF? "
        "(relationship types: PART_OF)"
    )
    assert _catalog(neo4j_db) == []


@pytest.mark.neo4j
@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            _PROJECT_CULTURES + "CALL gds.louvian.stream(graphName) YIELD nodeId RETURN nodeId",
            "procedure gds.louvian.stream does not exist; did you mean gds.louvain.stream, "
            "gds.louvain.stats or gds.leiden.stream?",
        ),
        ("CALL db.lables()", "procedure db.lables does not exist; did you mean db.labels?"),
        (
            _PROJECT_CULTURES + "CALL gds.pagerank.stream(graphName) YIELD nodeId RETURN nodeId",
            "procedure gds.pagerank.stream does not exist; did you mean gds.pageRank.stream?",
        ),
        (
            "RETURN apoc.text.clen('x')",
            "function apoc.text.clen does not exist; did you mean apoc.text.clean, apoc.text.code "
            "or apoc.text.urlencode? (line 1, column 8)",
        ),
        (
            "CALL dbms.listConfig()",
            "procedure dbms.listConfig is not open to analysts (what analysts may call: "
            "docs/cypher.md#limits)",
        ),
        (
            "RETURN apoc.cypher.runFirstColumnSingle('RETURN 1', {})",
            "function apoc.cypher.runFirstColumnSingle is not open to analysts (what analysts may "
            "call: docs/cypher.md#limits)",
        ),
        (
            "MATCH (c:Culture {name: $name}) RETURN c.level",
            "the query uses $name but no value was given; pass it as a parameter (soundbridge "
            'cypher: -p name=VALUE; the console\'s API: "params": {"name": …}), or write the '
            "value into the query",
        ),
    ],
)
def test_a_typo_is_told_apart_from_a_refusal(neo4j_db, query, message):
    with pytest.raises(CypherError) as info:
        run_read(neo4j_db, query)
    assert str(info.value) == message
    assert _catalog(neo4j_db) == []


@pytest.mark.neo4j
def test_the_cli_prints_the_warning_on_stderr_and_succeeds(neo4j_server, neo4j_db):
    neo4j_db.execute_query(_CULTURES)
    env = cli_env(neo4j_server.settings, inherit=False)
    out = CliRunner().invoke(cli, ["cypher", "MATCH (c:Cultur) RETURN c.name AS name"], env=env)
    assert out.exit_code == 0, out.output
    assert out.stdout == "name\n----\n(0 rows)\n"
    assert out.stderr == (
        "warning: the graph has no label Cultur (line 1, column 10); did you mean Culture? "
        "(labels: Culture)\n"
    )
