"""The analysts' Cypher path: the allow-list (no server), and the limits against the real server."""

from __future__ import annotations

import threading
import time

import pytest

from kg.cypher import (
    CypherError,
    QueryLimits,
    QueryRefused,
    QueryTimeout,
    QueryTooLarge,
    ReadOnlyViolation,
    check_allowed,
    run_read,
)
from loaders.errors import ConfigError

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
    ("CALL gds.graph.project('g', '*', '*')", "procedure gds.graph.project"),
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


def test_limits_come_from_the_environment_and_bad_values_name_the_variable():
    env = {"SOUNDBRIDGE_QUERY_TIMEOUT": "2.5", "SOUNDBRIDGE_QUERY_MAX_ROWS": "7"}
    assert QueryLimits.from_env(env) == QueryLimits(timeout=2.5, max_rows=7, max_bytes=10_000_000)
    assert QueryLimits.from_env({}) == QueryLimits(timeout=30.0, max_rows=1000)
    for name, bad in [("SOUNDBRIDGE_QUERY_TIMEOUT", "soon"), ("SOUNDBRIDGE_QUERY_MAX_ROWS", "0")]:
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
    assert "2 s" in str(outcome["error"]) and "SOUNDBRIDGE_QUERY_TIMEOUT" in str(outcome["error"])
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
    assert "MB" in cut.notice and "SOUNDBRIDGE_QUERY_MAX_BYTES=2000" in cut.notice
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
