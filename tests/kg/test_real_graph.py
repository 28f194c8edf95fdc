"""The full real data in the real server: counts, idempotency, a killed run, and analysts' Cypher.

One module-scoped ingestion serves every test here (a full ingestion takes seconds, not
milliseconds). Before it, a ``soundbridge ingest`` subprocess is killed half-way through writing
relationships, so the ingestion the tests look at is the one that has to repair a partial graph.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.cypher import ReadOnlyViolation, run_read
from kg.export import to_heterodata
from kg.ingest import IngestSummary, ingest
from kg.stats import graph_counts

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "cypher.md"


def _data() -> Path:
    return Path(os.environ["SOUNDBRIDGE_DATA"])


def _rows(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f) - 1  # minus the header


def _cli_env(server) -> dict[str, str]:
    s = server.settings
    return {
        **os.environ,
        "NEO4J_URI": s.uri,
        "NEO4J_USER": s.user,
        "NEO4J_PASSWORD": s.password,
        "SOUNDBRIDGE_HOME": str(s.home),
        "SOUNDBRIDGE_NEO4J_LIB": str(s.lib),
    }


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


def _check(number: int, rows: list[dict]) -> None:
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


def test_docs_have_at_least_ten_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(("title", "query", "params"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_docs_example(real_graph, title, query, params):
    rows = run_read(real_graph["driver"], query, params).records()
    assert rows, f"example {title!r} returned nothing"
    _check(int(title.split(".")[0]), rows)


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
