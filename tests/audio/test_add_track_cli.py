"""``add-track`` against the real server: one culture per track, audio the dashboard can serve, a
warning for silence."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import neo4j
import numpy as np
import pytest
import soundfile as sf
from audio_signals import SR, tone
from click.testing import CliRunner, Result

from audio.dataset import CCMCAudio
from audio.factorizer import AudioFactorizer
from audio.files import ADDED_PREFIX, added_audio_dir, track_audio_path
from audio.graph import add_track
from kg.server import Neo4jServer
from soundbridge.commands.audio import add_track_cmd

pytestmark = pytest.mark.neo4j

_CULTURES = """
CREATE (:Culture {id: 'CCMCcusc1236', name: 'Cusco Quechua', level: 'society'}),
       (:Culture {id: 'CCMCewee1241', name: 'Ewe', level: 'society'})
"""
_LINKS = """
MATCH (t:Track {id: $id})-[:FROM_CULTURE]->(c:Culture)
RETURN t.audio AS audio, collect(c.id) AS cultures
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, toy_songs: CCMCAudio) -> Path:
    run = tmp_path_factory.mktemp("run")
    f = AudioFactorizer(
        dim_c=3, dim_s=2, dim_a=2, channels=(8,), epochs=1, batch_size=6, n_variants=1
    )
    f.fit(toy_songs).save(run / "model.pt")
    (run / "split.json").write_text(json.dumps({"held_out_societies": [], "tunes": 0}))
    return run


@pytest.fixture
def home(
    neo4j_db: neo4j.Driver,
    neo4j_server: Neo4jServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """The session server's login, a home of the test's own, two cultures in a clean graph."""
    s = neo4j_server.settings
    monkeypatch.setenv("NEO4J_URI", s.uri)
    monkeypatch.setenv("NEO4J_USER", s.user)
    monkeypatch.setenv("NEO4J_PASSWORD", s.password)
    monkeypatch.setenv("SOUNDBRIDGE_HOME", str(tmp_path / "home"))
    neo4j_db.execute_query(_CULTURES)
    yield tmp_path / "home"


def _add(song: Path, culture: str, run_dir: Path) -> Result:
    result = CliRunner().invoke(
        add_track_cmd, [str(song), "--culture", culture, "--run", str(run_dir)]
    )
    assert result.exit_code == 0, result.output
    return result


def _track_id(result: Result) -> str:
    return next(w for w in result.stdout.split() if w.startswith("user:"))


def test_adding_again_with_another_culture_replaces_it(
    neo4j_db: neo4j.Driver, home: Path, run_dir: Path, tmp_path: Path
) -> None:
    song = tmp_path / "song.wav"
    sf.write(song, tone(330.0, 4.0), SR)
    first = _add(song, "Cusco Quechua", run_dir)
    assert "replaced" not in first.stdout
    track = _track_id(first)

    again = _add(song, "Ewe", run_dir)
    lines = again.stdout.splitlines()
    assert lines[0].startswith(f"updated Track {track}")
    assert "replaced culture CCMCcusc1236 (Cusco Quechua) by CCMCewee1241 (Ewe)" in lines
    rec = neo4j_db.execute_query(_LINKS, id=track).records
    assert rec[0]["cultures"] == ["CCMCewee1241"]

    # the same culture once more: nothing to replace, still one link
    same = _add(song, "CCMCewee1241", run_dir)
    assert "replaced" not in same.stdout
    assert neo4j_db.execute_query(_LINKS, id=track).records[0]["cultures"] == ["CCMCewee1241"]


def test_add_track_replaces_every_stale_link(neo4j_db: neo4j.Driver, home: Path) -> None:
    # A graph written before a track had one culture may hold two links: both go.
    z = np.zeros(2)
    neo4j_db.execute_query(
        "CREATE (c:Culture {id: 'X', name: 'Old', level: 'society'}) WITH c "
        "MATCH (e:Culture {id: 'CCMCewee1241'}) "
        "CREATE (c)<-[:FROM_CULTURE]-(:Track {id: 'user:t'})-[:FROM_CULTURE]->(e)"
    )
    added = add_track(
        neo4j_db, "user:t", name="t", culture_id="CCMCcusc1236", audio="", zc=z, zs=z, za=z
    )
    assert added.existed and sorted(added.replaced) == [("CCMCewee1241", "Ewe"), ("X", "Old")]
    rec = neo4j_db.execute_query(_LINKS, id="user:t").records
    assert rec[0]["cultures"] == ["CCMCcusc1236"]


def test_a_file_from_outside_the_data_folder_is_served_from_a_copy(
    neo4j_db: neo4j.Driver, home: Path, run_dir: Path, tmp_path: Path
) -> None:
    data = Path(os.environ["SOUNDBRIDGE_DATA"])
    outside = tmp_path / "downloads"
    outside.mkdir()
    song = outside / "field recording.flac"
    sf.write(song, tone(440.0, 4.0), SR)
    assert not song.resolve().is_relative_to(data.resolve())

    result = _add(song, "Ewe", run_dir)
    track = _track_id(result)
    audio = neo4j_db.execute_query(_LINKS, id=track).records[0]["audio"]
    assert audio == ADDED_PREFIX + track.replace(":", "-") + ".flac"
    copy = track_audio_path(audio, data, home)
    assert copy is not None and copy.parent == added_audio_dir(home).resolve()
    assert copy.read_bytes() == song.read_bytes()
    assert f"audio: copied to {added_audio_dir(home) / copy.name}" in result.stdout
    assert (added_audio_dir(home).stat().st_mode & 0o777) == 0o700
    song.unlink()  # the original may go: the dashboard serves the copy
    assert track_audio_path(audio, data, home) == copy


def test_a_silent_recording_is_added_with_a_warning(
    neo4j_db: neo4j.Driver, home: Path, run_dir: Path, tmp_path: Path
) -> None:
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(SR * 5, dtype=np.float32), SR)
    result = _add(silent, "Ewe", run_dir)
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    assert "silence.wav is silent (-inf dBFS RMS over 5.0 s, below -60 dBFS)" in warning[0]
    assert neo4j_db.execute_query(_LINKS, id=_track_id(result)).records  # added all the same

    quiet_tone = tmp_path / "tone.wav"
    sf.write(quiet_tone, 0.01 * tone(440.0, 4.0), SR)  # -49 dBFS: quiet, not silent
    assert "warning" not in _add(quiet_tone, "Ewe", run_dir).stderr
