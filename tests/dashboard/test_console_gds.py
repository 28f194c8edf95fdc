"""Graph algorithms from the dashboard's Cypher console (/api/cypher), over HTTP.

The console runs kg.cypher.run_read like the command line; these tests check that what the
analysts' path promises reaches the browser: the answer, the refusal of ``.write`` as a 400 with
its one-line reason, the server's warnings beside the rows, and no projection left behind.
"""

from __future__ import annotations

import pytest

from tests.conftest import gds_catalog

pytestmark = pytest.mark.neo4j

#: The Culture tree (society → region → world region) is a forest: weakly connected components
#: of PART_OF are its trees, one per Culture that is part of nothing.
_TREES = (
    "CALL gds.graph.project('tree', 'Culture', 'PART_OF') "
    "YIELD graphName, nodeCount, relationshipCount "
    "CALL gds.wcc.stats(graphName) YIELD componentCount "
    "RETURN nodeCount AS cultures, relationshipCount AS links, componentCount AS trees"
)
_COUNTS = (
    "RETURN count{ (:Culture) } AS cultures, count{ ()-[:PART_OF]->() } AS links, "
    "count{ MATCH (r:Culture) WHERE NOT (r)-[:PART_OF]->() } AS trees"
)
_WRITE = (
    "CALL gds.graph.project('tree', 'Culture', 'PART_OF') YIELD graphName "
    "CALL gds.wcc.write(graphName, {writeProperty: 'tree'}) YIELD componentCount "
    "RETURN componentCount"
)


_catalog = gds_catalog


def test_an_algorithm_answers_a_write_is_refused_and_no_projection_stays(
    dashboard_graph, sign_in_as
):
    analyst = sign_in_as("analyst")
    expected = dashboard_graph.execute_query(_COUNTS).records[0].data()
    assert expected["trees"] < expected["cultures"]  # a forest, not loose nodes

    r = analyst.post("/api/cypher", json={"query": _TREES})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "columns": ["cultures", "links", "trees"],
        "rows": [[expected["cultures"], expected["links"], expected["trees"]]],
        "truncated": None,
    }
    assert _catalog(dashboard_graph) == []

    r = analyst.post("/api/cypher", json={"query": _WRITE})
    assert r.status_code == 400
    assert r.json()["detail"] == (
        "procedure gds.wcc.write is not open to analysts: .write stores results in the graph, "
        "and analysts' queries are read-only; use gds.wcc.stream (rows), .stats (a summary) or "
        ".mutate (into the query's own projection)"
    )
    assert (
        dashboard_graph.execute_query(
            "MATCH (c:Culture) WHERE c.tree IS NOT NULL RETURN count(c) AS n"
        ).records[0]["n"]
        == 0
    )
    assert _catalog(dashboard_graph) == []


def test_a_misspelled_projection_fails_with_the_labels_there_are_and_leaves_nothing(
    dashboard_graph, sign_in_as
):
    analyst = sign_in_as("analyst")
    r = analyst.post("/api/cypher", json={"query": _TREES.replace("'PART_OF'", "'PART_FO'")})
    assert r.status_code == 400
    assert r.json()["detail"].startswith(
        "gds.graph.project: the graph has no relationship type PART_FO; did you mean PART_OF?"
    )
    assert _catalog(dashboard_graph) == []


def test_the_console_shows_the_server_s_warning_beside_an_empty_result(dashboard_graph, sign_in_as):
    analyst = sign_in_as("analyst")
    r = analyst.post("/api/cypher", json={"query": "MATCH (c:Cultur) RETURN c.name AS name"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == []
    # the console prints this field beside the row count
    assert body["truncated"].startswith(
        "warning: the graph has no label Cultur (line 1, column 10); did you mean Culture?"
    )
