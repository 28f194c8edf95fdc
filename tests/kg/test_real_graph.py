"""The full real data in the real server: counts, idempotency, a killed run, and analysts' Cypher.

One module-scoped ingestion serves every test here (a full ingestion takes seconds, not
milliseconds). Before it, a ``soundbridge ingest`` subprocess is killed half-way through writing
relationships, so the ingestion the tests look at is the one that has to repair a partial graph.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from kg.cypher import ReadOnlyViolation, run_read
from kg.export import to_heterodata
from kg.ingest import IngestSummary, ingest
from kg.stats import graph_counts
from tests.conftest import cli_env

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "cypher.md"


def _data() -> Path:
    return Path(os.environ["SOUNDBRIDGE_DATA"])


def _rows(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f) - 1  # minus the header


def _cli_env(server) -> dict[str, str]:
    return cli_env(server.settings)


def _kill_mid_relationships(server) -> None:
    """Start `soundbridge ingest`, kill -9 it once it is writing relationships."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "soundbridge.cli", "ingest", "--batch-size", "2000"],
        env=_cli_env(server),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if line.startswith("writing relationships"):
            time.sleep(1.0)
            break
        assert time.monotonic() < deadline, "ingest never reached the relationship phase"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def real_graph(neo4j_server, neo4j_driver, graph_wiper):
    graph_wiper(neo4j_driver)
    _kill_mid_relationships(neo4j_server)
    partial = graph_counts(neo4j_driver)
    first = ingest(neo4j_driver, progress=False)
    second = ingest(neo4j_driver, progress=False)
    return {"partial": partial, "first": first, "second": second, "driver": neo4j_driver}


def test_done_when_counts(real_graph):
    c = real_graph["first"].counts
    assert c.nodes["Track"] == 1007
    assert c.nodes["Artist"] == 17632
    assert c.nodes["User"] == 1892
    assert c.nodes["Function"] == 10
    assert c.societies >= 410
    assert c.relationships["LISTENED"] == _rows(_data() / "lastfm-hetrec2011" / "user_artists.dat")
    assert c.relationships["SERVES_FUNCTION"] == 806
    assert c.relationships["FRIEND"] == _rows(_data() / "lastfm-hetrec2011" / "user_friends.dat")


def test_killed_run_was_partial_and_the_rerun_converged(real_graph):
    partial, first = real_graph["partial"], real_graph["first"]
    assert partial.total_relationships < first.counts.total_relationships
    # every relationship kind ends with exactly one relationship per planned row
    for kind, n in _planned_by_type(first).items():
        assert first.counts.relationships[kind] == n, kind


def test_second_ingest_changes_no_count(real_graph):
    first, second = real_graph["first"], real_graph["second"]
    assert second.counts == first.counts
    assert second.created == []  # nothing was new, so every write took the MERGE path


def _planned_by_type(summary: IngestSummary) -> dict[str, int]:
    return {k: v for k, v in summary.rows.items() if k.isupper()}


def test_central_andes_reachable_from_quechua_and_aymara(real_graph):
    rows = run_read(
        real_graph["driver"],
        """
        MATCH (s:Culture {level: 'society'})-[:PART_OF]->(r:Culture {name: 'Central Andes'})
              -[:PART_OF]->(w:Culture {level: 'world_region'})
        RETURN s.name AS society, w.name AS world
    """,
    ).records()
    names = {r["society"] for r in rows}
    assert {"Cusco Quechua", "Ayacucho Quechua", "Central Aymara"} <= names
    assert {r["world"] for r in rows} == {"South America"}


def test_every_society_has_one_region_and_every_region_one_world_region(real_graph):
    rows = run_read(
        real_graph["driver"],
        """
        MATCH (c:Culture) WHERE c.level IN ['society', 'region']
        RETURN c.level AS level, c.id AS id, count{ (c)-[:PART_OF]->() } AS parents
    """,
    ).records()
    assert rows and all(r["parents"] == 1 for r in rows), [r for r in rows if r["parents"] != 1]


def test_co_collection_weights_match_the_formula_on_a_sample(real_graph):
    d = real_graph["driver"]
    rows = run_read(
        d,
        """
        MATCH (a:Artist)-[r:CO_COLLECTED]->(b:Artist)
        WITH a, b, r ORDER BY r.common DESC LIMIT 20
        RETURN r.weight AS weight,
               count{ (a)<-[:LISTENED]-(:User)-[:LISTENED]->(b) } AS both,
               count{ (a)<-[:LISTENED]-(:User) } AS ua
    """,
    ).records()
    for r in rows:
        assert r["weight"] == pytest.approx(r["both"] / r["ua"])


# --- docs/cypher.md: every worked example runs and says something sensible -------------------


def _examples() -> list[tuple[str, str, dict]]:
    text = DOCS.read_text(encoding="utf-8")
    out = []
    for num, title, body in re.findall(r"^## (\d+)\. (.+?)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        block = re.search(r"```cypher\n(.*?)```", body, re.S)
        assert block, f"example {num} has no cypher block"
        query = block.group(1)
        m = re.search(r"^// params: (.*)$", query, re.M)
        out.append((f"{num}. {title}", query, json.loads(m.group(1)) if m else {}))
    return out


EXAMPLES = _examples()

ANDEAN = {
    "Ayacucho Quechua",
    "Cusco Quechua",
    "South Bolivian Quechua",
    "Central Aymara",
    "Central-Southern Aymara",
    "Chicham",
    "Cocama-Cocamilla",
    "Shipibo-Conibo",
}
FUNCTIONS = {
    "Dance",
    "Lullaby",
    "Story",
    "Love",
    "Work",
    "Praise",
    "Healing",
    "Mourning",
    "Play",
    "Procession",
}


def _check(number: int, rows: list[dict], driver) -> None:
    """What 'sensible' means for each example, beyond non-empty."""
    if number == 1:
        assert {r["society"] for r in rows} <= ANDEAN
        assert {r["function"] for r in rows} <= FUNCTIONS | {"(withheld)"}
    elif number == 2:
        assert sum(r["songs"] for r in rows) == 806
    elif number == 3:
        assert all(r["societies"] >= 1 and r["example"].startswith("NHS2-") for r in rows)
    elif number == 4:
        assert all(not set(r["cultures"]) & set(r["other_cultures"]) for r in rows)
        assert all(0 < r["weight"] <= 1 and r["shared_listeners"] >= 5 for r in rows)
    elif number == 5:
        assert all(r["plays"] > 0 for r in rows)
    elif number == 6:
        assert len(rows) == 5 and all(0 < r["similarity"] <= 1 for r in rows)
        assert rows == sorted(rows, key=lambda r: -r["similarity"])
    elif number == 7:
        assert all(t.startswith("line_") for r in rows for t in r["some_traits"])
    elif number == 8:
        assert rows[0]["listeners"] >= rows[-1]["listeners"]
    elif number == 9:
        assert all(1 <= r["world_regions"] <= 8 for r in rows)
    elif number == 10:
        assert all(r["shared_artists"] >= 1 and r["user"] < r["friend"] for r in rows)
    elif number == 11:
        assert "brasil" in {r["tag"] for r in rows}
    elif number == 12:
        assert all(r["artist"] != "King Crimson" for r in rows)
    elif number == 13:
        assert rows[0]["hops"] == 3 and rows[0]["path"][-1] == "Europe"
    elif number == 14:
        assert all(set(r["only_here"]) <= set(r["functions"]) for r in rows)
    else:
        _CHECK_GDS[number](rows, driver)


def _descending(values: list) -> bool:
    return values == sorted(values, reverse=True)


def _cypher(driver, query: str, **params) -> list[dict]:
    return [r.data() for r in driver.execute_query(query, params).records]


def _style_communities(rows, driver):
    """15: Louvain's style communities against the HRAF regions, by the adjusted Rand index."""
    profiled = _cypher(driver, "MATCH (s:Culture) WHERE s.style_profile IS NOT NULL RETURN s.name")
    assert len(rows) == len(profiled) == 239
    community = [r["community"] for r in rows]
    regions = [r["hraf_region"] for r in rows]
    by_region = adjusted_rand_score(regions, community)
    by_world = adjusted_rand_score([r["world_region"] for r in rows], community)
    shuffled = []
    for seed in range(200):
        labels = regions[:]
        random.Random(seed).shuffle(labels)
        shuffled.append(adjusted_rand_score(labels, community))
    null, spread = statistics.mean(shuffled), statistics.pstdev(shuffled)
    # docs/cypher.md reports 0.0936 and 0.1902 (and 0.000 ± 0.004 for shuffled regions); a
    # fresh ingest gave 0.2172 against the world regions too: Louvain is deterministic on one
    # graph, the graph's near-tied style links are not across ingests
    assert by_region == pytest.approx(0.0936, abs=0.03)
    assert by_world == pytest.approx(0.20, abs=0.04)
    assert abs(null) < 0.01 and by_region > null + 10 * spread


def _near_identical_styles(rows, driver):
    """16: every society of a cluster has a link above 0.9 to another member."""
    assert all(r["size"] == len(r["societies"]) >= 2 for r in rows)
    for r in rows:
        linked = _cypher(
            driver,
            """
            UNWIND $names AS name
            MATCH (s:Culture {level: 'society', name: name})-[l:STYLE_SIMILAR]-(o:Culture)
            WHERE o.name IN $names AND l.score > 0.9
            RETURN DISTINCT s.name AS name
            """,
            names=r["societies"],
        )
        assert {x["name"] for x in linked} == set(r["societies"])


def _bridges(rows, driver):
    """17: betweenness, highest first; each lists the distinct other regions it links to."""
    assert _descending([r["betweenness"] for r in rows])
    for r in rows:
        assert r["betweenness"] > 0 and r["hraf_region"] not in r["links_to_regions"]
        assert len(set(r["links_to_regions"])) == len(r["links_to_regions"]) >= 1


def _listeners_vs_co_collection(rows, driver):
    """18: Jaccard neighbours and co-collection agree far more than chance."""
    assert all(len(r["alike_by_listeners"]) <= 5 and len(r["most_co_collected"]) <= 5 for r in rows)
    assert all(r["listeners"] >= 20 for r in rows)
    mean = statistics.mean(r["in_both"] for r in rows)
    chance = 5 * 5 / len(rows)  # two random 5-sets of the artists compared
    assert len(rows) == 712
    assert mean == pytest.approx(1.17, abs=0.1) and mean > 10 * chance  # as docs/cypher.md says
    top = rows[0]
    assert top["artist"] == "Lady Gaga" and top["in_both"] >= 3


def _influence(rows, driver):
    """19: PageRank over co-collection puts widely played artists first."""
    assert _descending([r["influence"] for r in rows])
    assert len(rows) == 15 and all(r["listeners"] >= 100 and r["influence"] > 1 for r in rows)


def _influence_in_a_culture(rows, driver):
    """20: only the culture's artists, highest first."""
    assert _descending([r["influence"] for r in rows])
    japanese = _cypher(
        driver,
        "MATCH (a:Artist)-[:FROM_CULTURE]->(:Culture {name: 'Japanese'}) RETURN a.name AS name",
    )
    assert {r["artist"] for r in rows} <= {x["name"] for x in japanese}
    assert all(r["influence"] >= 0.15 for r in rows)


def _hubs(rows, driver):
    """21: GDS's degree is the number of incoming CO_COLLECTED links."""
    for r in rows:
        counted = _cypher(
            driver,
            "MATCH (a:Artist {name: $name}) RETURN count{ (a)<-[:CO_COLLECTED]-() } AS n",
            name=r["artist"],
        )
        assert r["in_top_20_of"] in {x["n"] for x in counted}


def _culture_path(rows, driver):
    """22: Dijkstra's path is as short as Cypher's shortestPath over the same links."""
    (row,) = rows
    assert row["path"][0].endswith("(NHS2-QAHO)") and row["path"][-1].endswith("(NHS2-MY33)")
    assert row["steps"] == len(row["path"]) - 1
    shortest = _cypher(
        driver,
        """
        MATCH p = shortestPath((a:Track {id: 'NHS2-QAHO'})
                  -[:FROM_CULTURE|PART_OF|STYLE_SIMILAR*]-(b:Track {id: 'NHS2-MY33'}))
        WHERE all(n IN nodes(p) WHERE n:Track OR n:Culture)
        RETURN length(p) AS hops
        """,
    )
    assert row["steps"] == shortest[0]["hops"] == 6  # as docs/cypher.md says


def _style_neighbourhood(rows, driver):
    """23: BFS reaches what two style steps reach, the five nearest first."""
    reached = _cypher(
        driver,
        """
        MATCH (s:Culture {level: 'society', name: 'Ewe'})-[:STYLE_SIMILAR*1..2]->(o:Culture)
        WHERE o <> s
        RETURN DISTINCT o.name AS name
        """,
    )
    assert sorted(r["society"] for r in rows) == sorted(x["name"] for x in reached)
    assert [r["visited"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["steps"] for r in rows] == sorted(r["steps"] for r in rows)
    assert sum(r["steps"] == 1 for r in rows) == 5


def _embeddings_and_culture(rows, driver):
    """24: FastRP neighbours share a culture far more often than chance, as much as the docs say.

    The figures are read from the example's text, so that a wrong one fails here. The share
    differs between ingestions (the nodes' internal ids differ), so the docs give the range that
    every ingestion measured fell in; the artists, cultures and chance do not.
    """
    text = re.search(r"^## 24\..*?(?=^## )", DOCS.read_text(encoding="utf-8"), re.S | re.M)
    assert text
    prose = " ".join(text.group().split())
    doc = re.search(
        r"against (?P<chance>[\d.]+) % by chance\*\* \(averaged over the (?P<artists>[\d,]+) "
        r"artists of the (?P<cultures>\d+) cultures.*expect between (?P<lo>\d+) % and "
        r"(?P<hi>\d+) %",
        prose,
    )
    assert doc, "example 24 no longer states its figures in the expected words"
    artists = sum(r["artists"] for r in rows)
    share = sum(r["neighbour_shares_culture"] * r["artists"] for r in rows) / artists
    chance = sum(r["chance"] * r["artists"] for r in rows) / artists
    assert all(r["artists"] >= 10 and 0 <= r["neighbour_shares_culture"] <= 1 for r in rows)
    assert (artists, len(rows)) == (int(doc["artists"].replace(",", "")), int(doc["cultures"]))
    assert chance == pytest.approx(float(doc["chance"]) / 100, abs=0.0005)
    assert int(doc["lo"]) / 100 <= share <= int(doc["hi"]) / 100
    assert share > 10 * chance


def _estimate(rows, driver):
    """25: the estimate sizes the projection that was made: every user and artist, every play."""
    (row,) = rows
    counts = _cypher(
        driver,
        "RETURN count{ (:User) } + count{ (:Artist) } AS nodes, count{ ()-[:LISTENED]->() } AS r",
    )[0]
    assert (row["nodes"], row["relationships"]) == (counts["nodes"], counts["r"])
    assert 0 < row["bytesMax"] < 100_000_000 and "KiB" in row["memory"]


def _modularity(rows, driver):
    """26: Leiden's summary of co-collection."""
    (row,) = rows
    assert 0.3 < row["modularity"] < 1 and row["communities"] > 10
    assert row["largest"] < 17632 and row["median_size"] >= 1


def _under_a_world_region(rows, driver):
    """27: APOC's walk finds what the Culture tree's patterns find."""
    found = {r["kind"]: r["nodes"] for r in rows}
    expected = _cypher(
        driver,
        """
        MATCH (w:Culture {name: 'South America', level: 'world_region'})
        RETURN count{ (w)<-[:PART_OF]-(:Culture) } AS region,
               count{ (w)<-[:PART_OF*2]-(:Culture) } AS society,
               count{ (w)<-[:PART_OF*2]-(:Culture)<-[:FROM_CULTURE]-(:Track) } AS song
        """,
    )[0]
    assert found == {**expected, "world_region": 1}


def _region_traits(rows, driver):
    """28: counts of societies, most common first."""
    assert all(r["trait"].startswith("line_") for r in rows)
    assert all(0 < r["societies_with_it"] <= r["societies"] for r in rows)
    assert _descending([r["societies_with_it"] for r in rows])


def _approximate_name(rows, driver):
    """29: 'bjork' finds Björk."""
    assert rows[0]["artist"] == "Björk" and rows[0]["similarity"] >= 0.8


_CHECK_GDS = {
    15: _style_communities,
    16: _near_identical_styles,
    17: _bridges,
    18: _listeners_vs_co_collection,
    19: _influence,
    20: _influence_in_a_culture,
    21: _hubs,
    22: _culture_path,
    23: _style_neighbourhood,
    24: _embeddings_and_culture,
    25: _estimate,
    26: _modularity,
    27: _under_a_world_region,
    28: _region_traits,
    29: _approximate_name,
}


def test_docs_have_at_least_25_examples_numbered_in_order():
    numbers = [int(title.split(".")[0]) for title, _, _ in EXAMPLES]
    assert len(EXAMPLES) >= 25
    assert numbers == list(range(1, len(numbers) + 1))
    assert set(_CHECK_GDS) | set(range(1, 15)) >= set(numbers)


@pytest.mark.parametrize(("title", "query", "params"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_docs_example(real_graph, title, query, params):
    driver = real_graph["driver"]
    result = run_read(driver, query, params)
    rows = result.records()
    assert rows, f"example {title!r} returned nothing"
    assert result.warnings == (), result.notice  # no misspelled name, nothing deprecated
    _check(int(title.split(".")[0]), rows, driver)
    # a graph an example projected is gone with the query
    left = driver.execute_query("CALL gds.graph.list() YIELD graphName RETURN graphName").records
    assert left == []


# --- analysts' CLI and read-only guarantee on the real graph ----------------------------------


def test_cli_cypher_prints_table_and_json(real_graph, neo4j_server):
    env = _cli_env(neo4j_server)
    q = "MATCH (f:Function) RETURN f.name AS name ORDER BY name LIMIT 3"
    out = subprocess.run(
        [sys.executable, "-m", "soundbridge.cli", "cypher", q],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines()[0].split() == ["name"] and "Dance" in out and "(3 rows)" in out
    js = subprocess.run(
        [sys.executable, "-m", "soundbridge.cli", "cypher", "--json", q],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(js) == [{"name": "Dance"}, {"name": "Healing"}, {"name": "Love"}]


def test_cli_cypher_refuses_writes_with_nonzero_exit(real_graph, neo4j_server):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "soundbridge.cli",
            "cypher",
            "MATCH (t:Track {id: 'NHS2-TBMU'}) SET t.name = 'x' RETURN t",
        ],
        env=_cli_env(neo4j_server),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1
    assert "read-only" in r.stderr
    with pytest.raises(ReadOnlyViolation):
        run_read(real_graph["driver"], "CREATE (:Track {id: 'nope'})")
    name = run_read(real_graph["driver"], "MATCH (t:Track {id: 'NHS2-TBMU'}) RETURN t.name AS n")
    assert name.rows[0][0] != "x"


def test_heterodata_export_of_the_real_graph(real_graph):
    data, ids = to_heterodata(
        real_graph["driver"], labels=["User", "Artist"], rel_types=["LISTENED", "FRIEND"]
    )
    counts = real_graph["first"].counts
    assert data["User"].num_nodes == 1892 and data["Artist"].num_nodes == 17632
    listened = data["User", "LISTENED", "Artist"]
    assert listened.edge_index.shape == (2, counts.relationships["LISTENED"])
    assert int(listened.edge_index[1].max()) < 17632
    # the mapping is stable: same graph, same indices
    again, ids2 = to_heterodata(
        real_graph["driver"], labels=["User", "Artist"], rel_types=["LISTENED"]
    )
    assert ids2.ids == ids.ids
    assert again["User", "LISTENED", "Artist"].edge_index.equal(listened.edge_index)
