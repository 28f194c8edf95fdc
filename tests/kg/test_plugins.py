"""The local server's plugins (APOC Core, GDS) and Neo4j Browser, on the real server."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from kg.config import APOC_VERSION, GDS_VERSION, NEO4J_BROWSER_VERSION
from kg.cypher import QueryRefused, run_read
from kg.server import default_pom
from soundbridge.cli import cli

# A star: three leaves point at a hub. PageRank (damping 0.85, GDS's unnormalised scores) gives
# each leaf 0.15 and the hub 0.15 + 0.85 * 3 * 0.15 = 0.5325.
_STAR = (
    "CREATE (h:P {name: 'hub'}), (a:P {name: 'a'})-[:L]->(h), (b:P {name: 'b'})-[:L]->(h), "
    "(c:P {name: 'c'})-[:L]->(h)"
)
_PROJECT = "CALL gds.graph.project('star', 'P', 'L') YIELD nodeCount RETURN nodeCount"
_PAGERANK = (
    "CALL gds.pageRank.stream('star') YIELD nodeId, score "
    "RETURN gds.util.asNode(nodeId).name AS name, score ORDER BY score DESC, name"
)
_DROP = "CALL gds.graph.drop('star', false) YIELD graphName RETURN graphName"


def test_pom_pins_the_plugin_versions():
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = ET.parse(default_pom()).find("m:properties", ns)
    assert props is not None
    assert props.findtext("m:neo4j-browser.version", namespaces=ns) == NEO4J_BROWSER_VERSION
    assert props.findtext("m:apoc.version", namespaces=ns) == APOC_VERSION
    assert props.findtext("m:gds.version", namespaces=ns) == GDS_VERSION


@pytest.mark.neo4j
def test_plugins_answer_their_versions(neo4j_db):
    records = neo4j_db.execute_query("RETURN apoc.version() AS apoc, gds.version() AS gds").records
    assert (records[0]["apoc"], records[0]["gds"]) == (APOC_VERSION, GDS_VERSION)
    assert APOC_VERSION.startswith("5.26.")


@pytest.mark.neo4j
def test_apoc_function_as_operator_and_analyst(neo4j_db):
    query = "RETURN apoc.coll.sort([3, 1, 2]) AS xs, apoc.text.join(['a', 'b'], '-') AS s"
    record = neo4j_db.execute_query(query).records[0]
    assert (record["xs"], record["s"]) == ([1, 2, 3], "a-b")
    result = run_read(neo4j_db, query)
    assert result.rows == [[[1, 2, 3], "a-b"]]
    assert run_read(neo4j_db, "RETURN apoc.version() AS v, gds.version() AS g").rows == [
        [APOC_VERSION, GDS_VERSION]
    ]


@pytest.mark.neo4j
def test_apoc_schema_procedures_for_analysts(neo4j_db):
    neo4j_db.execute_query(_STAR)
    result = run_read(
        neo4j_db, "CALL apoc.meta.stats() YIELD nodeCount, relCount RETURN nodeCount, relCount"
    )
    assert result.rows == [[4, 3]]


@pytest.mark.neo4j
def test_gds_page_rank_stream_on_a_star(neo4j_db):
    neo4j_db.execute_query(_STAR)
    assert neo4j_db.execute_query(_PROJECT).records[0]["nodeCount"] == 4
    try:
        records = neo4j_db.execute_query(_PAGERANK).records
    finally:
        neo4j_db.execute_query(_DROP)
    scores = [(r["name"], r["score"]) for r in records]
    assert [name for name, _ in scores] == ["hub", "a", "b", "c"]
    assert scores[0][1] == pytest.approx(0.5325, abs=1e-3)
    assert all(score == pytest.approx(0.15, abs=1e-3) for _, score in scores[1:])
    listed = neo4j_db.execute_query("CALL gds.graph.list() YIELD graphName RETURN graphName")
    assert listed.records == []


@pytest.mark.neo4j
@pytest.mark.parametrize(
    "query",
    [_PROJECT, _PAGERANK, _DROP, "CALL apoc.create.node(['X'], {})", "RETURN apoc.load.json('x')"],
)
def test_analysts_may_not_project_or_write_through_plugins(neo4j_db, query):
    with pytest.raises(QueryRefused, match="not open to analysts"):
        run_read(neo4j_db, query)


@pytest.mark.neo4j
def test_cli_status_json_reports_plugins(neo4j_server):
    s = neo4j_server.settings
    env = {
        "NEO4J_URI": s.uri,
        "SOUNDBRIDGE_HOME": str(s.home),
        "SOUNDBRIDGE_NEO4J_LIB": str(s.lib),
        "NEO4J_PASSWORD": "",
    }
    out = CliRunner().invoke(cli, ["neo4j", "status", "--json"], env=env)
    assert out.exit_code == 0, out.output
    status = json.loads(out.output)
    assert status["running"] is True
    assert status["browser_url"] is None  # HTTP is off
    assert (status["apoc_version"], status["gds_version"]) == (APOC_VERSION, GDS_VERSION)
