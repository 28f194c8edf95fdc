"""Factors in Neo4j, and ``add-track`` (cold start), against the real server."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j
import numpy as np
import pytest
import soundfile as sf
from audio_signals import SR, tone
from click.testing import CliRunner

from audio.dataset import CCMCAudio
from audio.errors import AudioDecodeError
from audio.factorizer import AudioFactorizer
from audio.graph import UnknownCultureError, store_factors
from kg.server import Neo4jServer
from soundbridge.commands.audio import add_track_cmd

pytestmark = pytest.mark.neo4j

_COUNT = "MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, count(r) AS r"


def _counts(driver: neo4j.Driver) -> tuple[int, int]:
    rec = driver.execute_query(_COUNT).records[0]
    return int(rec["n"]), int(rec["r"])


def test_store_factors_sets_lists_on_tracks(neo4j_db: neo4j.Driver) -> None:
    neo4j_db.execute_query("UNWIND ['A', 'B'] AS id CREATE (:Track {id: id})")
    zc, zs, za = np.ones((3, 2)), np.zeros((3, 1)), np.full((3, 1), 0.5)
    assert store_factors(neo4j_db, ["A", "B", "absent"], zc, zs, za) == 2
    rec = neo4j_db.execute_query("MATCH (t:Track {id: 'B'}) RETURN t.zc AS zc, t.za AS za").records
    assert rec[0]["zc"] == [1.0, 1.0] and rec[0]["za"] == [0.5]


@pytest.fixture
def run_dir(tmp_path: Path, toy_songs: CCMCAudio) -> Path:
    run = tmp_path / "run"
    f = AudioFactorizer(
        dim_c=3, dim_s=2, dim_a=2, channels=(8,), epochs=1, batch_size=6, n_variants=1
    )
    f.fit(toy_songs).save(run / "model.pt")
    (run / "split.json").write_text(json.dumps({"held_out_societies": [], "tunes": 0}))
    return run


def test_add_track_links_a_new_file_and_refuses_bad_input_without_writing(
    neo4j_db: neo4j.Driver,
    neo4j_server: Neo4jServer,
    run_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = neo4j_server.settings
    monkeypatch.setenv("NEO4J_URI", s.uri)
    monkeypatch.setenv("NEO4J_USER", s.user)
    monkeypatch.setenv("NEO4J_PASSWORD", s.password)
    neo4j_db.execute_query(
        "CREATE (:Culture {id: 'CCMCcusc1236', name: 'Cusco Quechua', level: 'society'})"
    )
    before = _counts(neo4j_db)
    runner = CliRunner()
    args = ["--culture", "Cusco Quechua", "--run", str(run_dir)]

    text = tmp_path / "lyrics.txt"
    text.write_text("not a recording")
    result = runner.invoke(add_track_cmd, [str(text), *args])
    assert isinstance(result.exception, AudioDecodeError) and "lyrics.txt" in str(result.exception)
    assert _counts(neo4j_db) == before

    song = tmp_path / "song.wav"
    sf.write(song, tone(330.0, 4.0), SR)
    result = runner.invoke(
        add_track_cmd, [str(song), "--culture", "Nowhere", "--run", str(run_dir)]
    )
    assert isinstance(result.exception, UnknownCultureError) and "Nowhere" in str(result.exception)
    assert _counts(neo4j_db) == before

    result = runner.invoke(add_track_cmd, [str(song), *args, "--title", "My song"])
    assert result.exit_code == 0, result.output
    rec = neo4j_db.execute_query(
        "MATCH (t:Track {name: 'My song'})-[:FROM_CULTURE]->(c:Culture) "
        "RETURN t.id AS id, t.zc AS zc, t.za AS za, c.id AS culture"
    ).records
    assert len(rec) == 1 and rec[0]["culture"] == "CCMCcusc1236"
    assert rec[0]["id"].startswith("user:") and len(rec[0]["zc"]) == 3 and len(rec[0]["za"]) == 2
    # Adding the same file again updates the same node.
    runner.invoke(add_track_cmd, [str(song), *args, "--title", "My song"])
    assert _counts(neo4j_db) == (before[0] + 1, before[1] + 1)
