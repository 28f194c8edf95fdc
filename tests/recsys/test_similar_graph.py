"""recommend_similar against the real server, on the real CCMC songs and Culture tree.

The factors are known-answer vectors (z_a clustered by public function, z_s by HRAF region), so
the expected behaviour is known: a query whose label is hidden still finds songs of its function.
"""

from __future__ import annotations

import json

import neo4j
import numpy as np
import pytest
from click.testing import CliRunner

from audio.graph import add_track
from recsys.catalogue import UnknownTrackError, load_catalogue
from recsys.cultures import UnknownCultureError
from recsys.similar import CrossCulturalRecommender, recommend_similar
from tests.recsys.known_graph import DIM, build_known_graph

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def graph(neo4j_driver: neo4j.Driver, graph_wiper) -> neo4j.Driver:
    graph_wiper(neo4j_driver)
    build_known_graph(neo4j_driver)
    return neo4j_driver


def test_every_result_is_from_the_asked_culture_and_there_are_k(graph) -> None:
    cat = load_catalogue(graph)
    tree = cat.tree
    andes = tree.societies_of(("HRAF-central-andes",))
    for culture in ("Central Andes", "Andean", "HRAF-central-andes"):
        recs = recommend_similar("NHS2-QAHO", culture, 10, driver=graph)
        assert len(recs) == 10
        assert {r.culture for r in recs} <= andes
    quechua = recommend_similar("NHS2-QAHO", "Quechua", 50, driver=graph)
    assert {r.culture_name for r in quechua} <= {
        "Cusco Quechua", "Ayacucho Quechua", "South Bolivian Quechua"
    }  # fmt: skip
    assert len(quechua) == int(np.isin(cat.cultures, list(tree.resolve("Quechua").ids)).sum())
    assert len(recommend_similar("NHS2-QAHO", "South America", 25, driver=graph)) == 25


def test_hidden_label_queries_find_their_function(graph) -> None:
    cat = load_catalogue(graph)
    ewe = cat.index("NHS2-QAHO")
    model = CrossCulturalRecommender().fit(cat, hide=cat.cultures == cat.cultures[ewe])
    recs = model.recommend_similar("NHS2-QAHO", "South America", 10)
    assert recs[0].details["query_function_source"] == "predicted"
    assert sum(r.function == "Dance" for r in recs) >= 8


def test_errors_name_the_problem(graph) -> None:
    with pytest.raises(UnknownTrackError, match="not in the catalogue"):
        recommend_similar("NHS2-NOPE", "Andean", driver=graph)
    with pytest.raises(UnknownCultureError, match="Closest known") as e:
        recommend_similar("NHS2-QAHO", "Andes mountains people", driver=graph)
    assert "Andean" in e.value.suggestions or "Central Andes" in e.value.suggestions
    with pytest.raises(TypeError, match="unknown option"):
        recommend_similar("NHS2-QAHO", "Andean", driver=graph, colour="red")


def test_added_track_is_queryable_at_once(graph) -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(size=(3, DIM))
    add_track(graph, "user:test-song", name="test song", culture_id="CCMCewee1241",
              audio="", zc=z[0], zs=z[1], za=z[2])  # fmt: skip
    try:
        recs = recommend_similar("user:test-song", "Central Andes", 5, driver=graph)
        assert len(recs) == 5
        back = recommend_similar("NHS2-QAHO", "Ewe", 5, driver=graph)
        assert "user:test-song" in {r.track_id for r in back}
    finally:
        graph.execute_query("MATCH (t:Track {id: 'user:test-song'}) DETACH DELETE t")


def test_cli_prints_results_with_explanations(graph, neo4j_server, monkeypatch) -> None:
    from soundbridge.commands.recommend import recommend

    s = neo4j_server.settings
    monkeypatch.setenv("NEO4J_URI", s.uri)
    monkeypatch.setenv("NEO4J_USER", s.user)
    monkeypatch.setenv("NEO4J_PASSWORD", s.password)
    res = CliRunner().invoke(
        recommend, ["similar", "NHS2-QAHO", "--culture", "Central Andes", "--k", "3", "--json"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 3 and all(r["explanation"] for r in rows)
    bad = CliRunner().invoke(recommend, ["similar", "NHS2-QAHO", "--culture", "Atlantis"])
    assert bad.exit_code != 0 and "Closest known" in str(bad.exception or bad.output)
