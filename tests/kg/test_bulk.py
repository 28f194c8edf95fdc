"""``soundbridge ingest --bulk``: a synthetic folder imported by neo4j-admin into a private server.

The import stops and starts the server it fills, so it never runs against the session's server:
the module starts its own (its own temporary home and free port, the installed jars), imports
once, and every test reads that graph or checks a refusal.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg.bulk import BulkSummary, bulk_ingest
from kg.cocollection import co_collection_blocks, co_collection_weights
from kg.connection import connect
from kg.server import Neo4jServer
from kg.stats import graph_counts
from loaders.synth import SynthSummary, generate
from soundbridge.cli import main
from tests.conftest import cli_env, free_port, server_settings

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

SIZES = {"users": 300, "tracks": 400, "artists": 50, "plays": 5_000, "cultures": 12}
SMALL_SERVER = {
    "SOUNDBRIDGE_NEO4J_HEAP_INITIAL": "256m",
    "SOUNDBRIDGE_NEO4J_HEAP_MAX": "768m",
    "SOUNDBRIDGE_NEO4J_PAGECACHE": "128m",
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    out = tmp_path_factory.mktemp("bulk-synth") / "synth"
    return generate(out, seed=3, netease_json=False, **SIZES)


@pytest.fixture(scope="module")
def imported(
    synth: SynthSummary, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Neo4jServer, BulkSummary]]:
    home = tmp_path_factory.mktemp("bulk-home")
    server = Neo4jServer(server_settings(home, free_port(), **SMALL_SERVER))
    try:
        yield server, bulk_ingest(server, synth.out_dir, progress=False)
    finally:
        server.stop(timeout=60.0, force=True)


def rows(s: SynthSummary, name: str) -> pd.DataFrame:
    return pd.read_csv(s.bulk[name], dtype=str, keep_default_na=False)


# -- the imported graph ---------------------------------------------------------------------------


def test_counts_are_the_csv_rows(
    synth: SynthSummary, imported: tuple[Neo4jServer, BulkSummary]
) -> None:
    server, summary = imported
    nodes: dict[str, int] = {}
    rels: dict[str, int] = {}
    for name in synth.bulk:
        table = rows(synth, name)
        if ":LABEL" in table.columns:
            nodes[table[":LABEL"].iloc[0]] = len(table)
        else:
            rels[table[":TYPE"].iloc[0]] = len(table)
    assert nodes == {
        "User": 300,
        "Track": 400,
        "Artist": 50,
        "Playlist": synth.playlists,
        "Culture": 12 + 2 + 2,
        "Function": 10,
    }
    assert rels["LISTENED"] == synth.listened and rels["COLLECTED"] == synth.collections
    assert summary.imported["nodes"] == sum(nodes.values())
    assert summary.imported["relationships"] == sum(rels.values())
    derived = summary.derived["Track CO_COLLECTED"] + summary.derived["Artist CO_COLLECTED"]
    assert summary.counts.nodes == dict(sorted(nodes.items()))
    assert summary.counts.relationships == dict(sorted({**rels, "CO_COLLECTED": derived}.items()))
    assert summary.import_seconds > 0 and summary.import_rate > 0 and summary.notes == []
    with connect(server.settings) as driver:  # a new driver sees the same graph
        assert graph_counts(driver) == summary.counts


def test_listened_joins_users_to_artists_and_the_schema_exists(
    imported: tuple[Neo4jServer, BulkSummary],
) -> None:
    server, _ = imported
    with connect(server.settings) as driver, driver.session() as session:
        shapes = session.run(
            "MATCH (a)-[r:LISTENED]->(b) RETURN DISTINCT labels(a) AS a, labels(b) AS b"
        ).data()
        constraints = {r["name"] for r in session.run("SHOW CONSTRAINTS YIELD name")}
    assert shapes == [{"a": ["User"], "b": ["Artist"]}]
    assert {"user_id", "track_id", "artist_id", "culture_id", "playlist_id"} <= constraints


@pytest.mark.parametrize(
    ("name", "label"), [("collected", "Track"), ("listened", "Artist")], ids=["track", "artist"]
)
def test_co_collected_is_what_ingestion_derives(
    synth: SynthSummary, imported: tuple[Neo4jServer, BulkSummary], name: str, label: str
) -> None:
    server, _ = imported
    pairs = rows(synth, name).iloc[:, :2]
    pairs.columns = ["user_id", "item_id"]
    expected = co_collection_weights(pairs).sort_values(["src", "dst"], ignore_index=True)
    with connect(server.settings) as driver, driver.session() as session:
        got = pd.DataFrame(
            session.run(
                f"MATCH (a:{label})-[r:CO_COLLECTED]->(b:{label}) "
                "RETURN a.id AS src, b.id AS dst, r.weight AS weight, r.common AS common"
            ).data()
        ).sort_values(["src", "dst"], ignore_index=True)
    assert len(got) > 100
    pd.testing.assert_frame_equal(got[["src", "dst"]], expected[["src", "dst"]])
    assert got["common"].tolist() == expected["common"].tolist()
    # co_collection_weights divides in float32; the bulk path in float64
    np.testing.assert_allclose(got["weight"], expected["weight"], rtol=1e-6)


# -- the weights, known answers -------------------------------------------------------------------


def test_co_collection_blocks_known_answer() -> None:
    # Track 0 is collected by users a, b, c; track 1 by a, b; track 2 by c and d.
    users = np.array(["a", "b", "c", "a", "b", "c", "d", "a"])
    items = np.array([0, 0, 0, 1, 1, 2, 2, 0])  # the last row repeats (a, 0): counted once
    edges = [
        (int(s), int(d), float(w), int(c))
        for block in co_collection_blocks(users, items, 3, max_entries=1)
        for s, d, w, c in zip(*block, strict=True)
    ]
    assert edges == [
        (0, 1, 2 / 3, 2),  # |U_0 ∩ U_1| / |U_0|
        (0, 2, 1 / 3, 1),
        (1, 0, 1.0, 2),
        (2, 0, 1 / 2, 1),
    ]


def test_co_collection_blocks_equal_co_collection_weights() -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 40, 600), rng.integers(0, 70, 600)
    for top_k, max_entries in ((3, 50), (20, 10**9)):
        blocks = list(co_collection_blocks(users, items, 70, top_k=top_k, max_entries=max_entries))
        assert (len(blocks) > 1) == (max_entries == 50)
        got = np.concatenate([np.stack(b[:2]) for b in blocks], axis=1)
        expected = co_collection_weights(
            pd.DataFrame({"user_id": users, "item_id": items}), top_k=top_k
        )
        assert got.T.tolist() == expected[["src", "dst"]].to_numpy().tolist()


# -- refusals -------------------------------------------------------------------------------------


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_non_empty_database_is_refused_and_left_alone(
    synth: SynthSummary,
    imported: tuple[Neo4jServer, BulkSummary],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, summary = imported
    pid = server.status().pid
    for name, value in cli_env(server.settings, inherit=False).items():
        monkeypatch.setenv(name, value)
    assert main(["ingest", "--bulk", str(synth.out_dir)]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"error: database 'neo4j' at {server.settings.uri} is not empty (")
    assert "`soundbridge ingest`" in line
    assert server.status().pid == pid  # never stopped
    with connect(server.settings) as driver:
        assert graph_counts(driver) == summary.counts


def test_bad_inputs_are_one_line(
    synth: SynthSummary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["ingest", "--bulk", str(missing)]) == 1
    assert one_error_line(capsys).startswith(f"error: {missing}: no such folder; give the --out")

    (tmp_path / "empty").mkdir()
    assert main(["ingest", "--bulk", str(tmp_path / "empty")]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"error: {tmp_path / 'empty' / 'synth.json'}: missing: ")
    assert "`soundbridge synth --out" in line

    partial = tmp_path / "partial"
    shutil.copytree(synth.out_dir, partial)
    (partial / "bulk" / "friend.csv").unlink()
    assert main(["ingest", "--bulk", str(partial)]) == 1
    line = one_error_line(capsys)
    assert re.match(
        rf"error: {re.escape(str(partial))}/bulk/friend.csv: missing: the bulk CSV", line
    )

    monkeypatch.setenv("SOUNDBRIDGE_NEO4J_LIB", str(tmp_path / "no-jars"))
    assert main(["ingest", "--bulk", str(synth.out_dir)]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"error: Neo4j is not installed in {tmp_path / 'no-jars'}; run ")
    assert not (Path(os.environ["SOUNDBRIDGE_HOME"]) / "neo4j" / "data").exists()

    assert main(["ingest", "--bulk", str(synth.out_dir), "--source", "ccmc"]) == 2
    assert "leave out --data, --source and --netease" in one_error_line(capsys)


def test_the_figures_are_the_summary_as_json_values() -> None:
    from kg.stats import GraphCounts

    s = BulkSummary(
        folder=Path("d"),
        database="neo4j",
        imported={"nodes": 10, "relationships": 300},
        import_seconds=2.0,
        restart_seconds=1.0,
        derived={"Track CO_COLLECTED": 100},
        derive_seconds=4.0,
        counts=GraphCounts({"User": 10}, {"LISTENED": 300, "CO_COLLECTED": 100}, 0),
        total_seconds=8.0,
    )
    f = s.figures()
    assert f["import_relationships_per_second"] == 150  # 300 / 2
    assert f["derive_relationships_per_second"] == 25  # 100 / 4
    assert f["end_to_end_relationships_per_second"] == 50  # (300 + 100) / 8
    assert f["folder"] == "d" and f["relationships"] == {"LISTENED": 300, "CO_COLLECTED": 100}
