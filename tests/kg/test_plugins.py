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
from tests.conftest import free_port, operator_env

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
    ("query", "named"),
    [
        (_PAGERANK, "graph 'star' is not projected by this query"),  # an operator's projection
        (_DROP, "graph 'star' is not projected by this query"),
        ("CALL gds.pageRank.write('star', {writeProperty: 'pr'})", ".write stores results"),
        ("CALL apoc.create.node(['X'], {})", "procedure apoc.create.node is not open"),
        ("RETURN apoc.cypher.runFirstColumnSingle('RETURN 1', {})", "function apoc.cypher"),
        ("RETURN apoc.load.json('x')", "function apoc.load.json does not exist"),  # a procedure
    ],
)
def test_analysts_may_not_reach_other_graphs_or_write_through_plugins(neo4j_db, query, named):
    with pytest.raises(QueryRefused) as info:
        run_read(neo4j_db, query)
    assert named in str(info.value)


# -- one algorithm of each family, on the analysts' path (one statement, projection dropped) ----


def _analyst_rows(driver, query: str) -> list[dict]:
    rows = run_read(driver, query).records()
    left = driver.execute_query("CALL gds.graph.list() YIELD graphName RETURN graphName")
    assert left.records == []  # the projection went with the query
    return rows


@pytest.mark.neo4j
def test_analyst_page_rank_on_a_star(neo4j_db):
    neo4j_db.execute_query(_STAR)
    rows = _analyst_rows(
        neo4j_db,
        "CALL gds.graph.project('star', 'P', 'L') YIELD graphName "
        "CALL gds.pageRank.stream(graphName) YIELD nodeId, score "
        "RETURN gds.util.asNode(nodeId).name AS name, score ORDER BY score DESC, name",
    )
    assert [r["name"] for r in rows] == ["hub", "a", "b", "c"]
    assert rows[0]["score"] == pytest.approx(0.5325, abs=1e-3)


@pytest.mark.neo4j
def test_analyst_louvain_finds_two_triangles(neo4j_db):
    # two triangles joined by one edge: two communities, the triangles
    neo4j_db.execute_query(
        "CREATE (a:P {name: 'a'}), (b:P {name: 'b'}), (c:P {name: 'c'}), "
        "(d:P {name: 'd'}), (e:P {name: 'e'}), (f:P {name: 'f'}), "
        "(a)-[:L]->(b), (b)-[:L]->(c), (c)-[:L]->(a), (d)-[:L]->(e), (e)-[:L]->(f), "
        "(f)-[:L]->(d), (c)-[:L]->(d)"
    )
    rows = _analyst_rows(
        neo4j_db,
        "CALL gds.graph.project('t', 'P', {L: {orientation: 'UNDIRECTED'}}) YIELD graphName "
        "CALL gds.louvain.stream(graphName) YIELD nodeId, communityId "
        "WITH communityId, collect(gds.util.asNode(nodeId).name) AS members "
        "RETURN apoc.coll.sort(members) AS members ORDER BY members",
    )
    assert [r["members"] for r in rows] == [["a", "b", "c"], ["d", "e", "f"]]


@pytest.mark.neo4j
def test_analyst_node_similarity_is_jaccard(neo4j_db):
    # x and y share listeners {1, 2} of {1, 2, 3}: 2/3; y and z share {3} of {1, 2, 3}: 1/3
    neo4j_db.execute_query(
        "CREATE (x:A {name: 'x'}), (y:A {name: 'y'}), (z:A {name: 'z'}), "
        "(u1:U)-[:LISTENED]->(x), (u2:U)-[:LISTENED]->(x), (u1)-[:LISTENED]->(y), "
        "(u2)-[:LISTENED]->(y), (u3:U)-[:LISTENED]->(y), (u3)-[:LISTENED]->(z)"
    )
    rows = _analyst_rows(
        neo4j_db,
        "CALL gds.graph.project('l', ['U', 'A'], {LISTENED: {orientation: 'REVERSE'}}) "
        "YIELD graphName "
        "CALL gds.nodeSimilarity.stream(graphName) YIELD node1, node2, similarity "
        "WITH gds.util.asNode(node1).name AS a, gds.util.asNode(node2).name AS b, similarity "
        "WHERE a < b RETURN a, b, similarity ORDER BY a, b",
    )
    assert [(r["a"], r["b"]) for r in rows] == [("x", "y"), ("y", "z")]
    assert [r["similarity"] for r in rows] == pytest.approx([2 / 3, 1 / 3])


@pytest.mark.neo4j
def test_analyst_dijkstra_takes_the_cheaper_detour(neo4j_db):
    neo4j_db.execute_query(
        "CREATE (a:P {name: 'a'})-[:L {cost: 1.0}]->(b:P {name: 'b'})-[:L {cost: 1.0}]->"
        "(c:P {name: 'c'}), (a)-[:L {cost: 5.0}]->(c)"
    )
    rows = _analyst_rows(
        neo4j_db,
        "MATCH (a:P {name: 'a'}), (c:P {name: 'c'}) "
        "CALL gds.graph.project('w', 'P', {L: {properties: 'cost'}}) YIELD graphName "
        "CALL gds.shortestPath.dijkstra.stream(graphName, "
        "{sourceNode: a, targetNode: c, relationshipWeightProperty: 'cost'}) "
        "YIELD totalCost, nodeIds "
        "RETURN totalCost, [n IN gds.util.asNodes(nodeIds) | n.name] AS path",
    )
    assert rows == [{"totalCost": 2.0, "path": ["a", "b", "c"]}]


@pytest.mark.neo4j
def test_analyst_fast_rp_gives_twins_one_embedding(neo4j_db):
    # p and q have the same neighbours (h1, h2), r only h2: with no weight on a node's own
    # random vector, p's and q's embeddings are the same, r's another
    neo4j_db.execute_query(
        "CREATE (h1:P {name: 'h1'}), (h2:P {name: 'h2'}), (p:P {name: 'p'}), "
        "(q:P {name: 'q'}), (r:P {name: 'r'}), (p)-[:L]->(h1), (p)-[:L]->(h2), "
        "(q)-[:L]->(h1), (q)-[:L]->(h2), (r)-[:L]->(h2)"
    )
    rows = _analyst_rows(
        neo4j_db,
        "CALL gds.graph.project('e', 'P', {L: {orientation: 'UNDIRECTED'}}) YIELD graphName "
        "CALL gds.fastRP.stream(graphName, "
        "{embeddingDimension: 16, iterationWeights: [0.0, 1.0], randomSeed: 7}) "
        "YIELD nodeId, embedding "
        "WITH apoc.map.fromPairs(collect([gds.util.asNode(nodeId).name, embedding])) AS e "
        "RETURN gds.similarity.cosine(e.p, e.q) AS twins, "
        "gds.similarity.cosine(e.p, e.r) AS other, size(e.p) AS dimension",
    )
    assert rows[0]["dimension"] == 16
    assert rows[0]["twins"] == pytest.approx(1.0)
    assert rows[0]["other"] < 0.99


@pytest.mark.neo4j
def test_cli_status_json_reports_plugins(neo4j_server):
    # this shell would give a server started now an HTTP port; the running one has none
    env = operator_env(neo4j_server.settings, SOUNDBRIDGE_NEO4J_HTTP_PORT=str(free_port()))
    out = CliRunner().invoke(cli, ["neo4j", "status", "--json"], env=env)
    assert out.exit_code == 0, out.output
    status = json.loads(out.output)
    assert status["running"] is True
    assert status["browser_url"] is None  # HTTP is off in the running server
    assert (status["apoc_version"], status["gds_version"]) == (APOC_VERSION, GDS_VERSION)
