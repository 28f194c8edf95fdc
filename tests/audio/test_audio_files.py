"""Where a Track's recording is (refusing paths that leave their folder), where added recordings are
kept, and the checks add-track makes before it loads a model or touches the graph."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_signals import SR, tone
from click.testing import CliRunner

from audio.errors import AudioDecodeError, AudioError
from audio.files import (
    ADDED_PREFIX,
    added_audio_dir,
    keep_recording,
    recording_seconds,
    rms_dbfs,
    track_audio_path,
)
from soundbridge.commands.audio import add_track_cmd


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder with one song and a home with one added recording; a secret beside each."""
    data, home = tmp_path / "data", tmp_path / "home"
    (data / "ccmc" / "songs").mkdir(parents=True)
    (data / "ccmc" / "songs" / "NHS2-AAAA.mp3").write_bytes(b"data song")
    added_audio_dir(home).mkdir(parents=True)
    (added_audio_dir(home) / "user-0123.wav").write_bytes(b"added song")
    (home / "neo4j-password").write_text("secret")
    (tmp_path / "outside.txt").write_text("outside")
    return data, home


def test_data_folder_audio_resolves_inside_the_data_folder(roots: tuple[Path, Path]) -> None:
    data, home = roots
    path = track_audio_path("ccmc/songs/NHS2-AAAA.mp3", data, home)
    assert path is not None and path.read_bytes() == b"data song"
    assert track_audio_path("ccmc/songs/NHS2-AAAA.mp3", None, home) is None  # no data folder


def test_added_audio_resolves_inside_the_added_folder(roots: tuple[Path, Path]) -> None:
    data, home = roots
    path = track_audio_path(f"{ADDED_PREFIX}user-0123.wav", data, home)
    assert path is not None and path.read_bytes() == b"added song"
    assert track_audio_path(f"{ADDED_PREFIX}user-0123.wav", data, None) is None  # no home


@pytest.mark.parametrize(
    "audio",
    [
        "",
        None,
        "../../etc/passwd",
        "../outside.txt",
        "ccmc/../../outside.txt",
        "/etc/passwd",
        "//etc/passwd",
        "ccmc/songs/missing.mp3",
        "ccmc/songs",  # a folder
        "ccmc/songs/NHS2-AAAA.mp3\x00.txt",
        f"{ADDED_PREFIX}",
        f"{ADDED_PREFIX}..",
        f"{ADDED_PREFIX}../../neo4j-password",
        f"{ADDED_PREFIX}../outside.txt",
        f"{ADDED_PREFIX}/etc/passwd",
        f"{ADDED_PREFIX}sub/user-0123.wav",
        f"{ADDED_PREFIX}..\\..\\neo4j-password",
        f"{ADDED_PREFIX}missing.wav",
        "added/user-0123.wav",  # not a data-folder path either
    ],
)
def test_nothing_outside_its_folder_resolves(roots: tuple[Path, Path], audio: str | None) -> None:
    data, home = roots
    assert track_audio_path(audio, data, home) is None


def test_a_symbolic_link_out_of_the_data_folder_is_refused(roots: tuple[Path, Path]) -> None:
    data, home = roots
    (data / "ccmc" / "songs" / "link.mp3").symlink_to(home / "neo4j-password")
    assert track_audio_path("ccmc/songs/link.mp3", data, home) is None


def test_a_file_from_elsewhere_is_copied_privately_and_resolves(tmp_path: Path) -> None:
    data, home, elsewhere = tmp_path / "data", tmp_path / "home", tmp_path / "downloads"
    data.mkdir()
    elsewhere.mkdir()
    song = elsewhere / "My Song.WAV"
    sf.write(song, tone(330.0, 1.0), SR)
    value = keep_recording(song, "user:abc", data_root=data, home=home)
    assert value == f"{ADDED_PREFIX}user-abc.wav"
    copy = track_audio_path(value, data, home)
    assert copy == (added_audio_dir(home) / "user-abc.wav").resolve()
    assert copy.read_bytes() == song.read_bytes()
    assert stat.S_IMODE(added_audio_dir(home).stat().st_mode) == 0o700
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    # the copy survives the original
    song.unlink()
    assert track_audio_path(value, data, home) == copy


def test_a_file_inside_the_data_folder_is_referred_to_not_copied(tmp_path: Path) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    (data / "mine").mkdir(parents=True)
    song = data / "mine" / "song.wav"
    sf.write(song, tone(330.0, 1.0), SR)
    value = keep_recording(song, "user:abc", data_root=data, home=home)
    assert value == "mine/song.wav"
    assert track_audio_path(value, data, home) == song.resolve()
    assert not home.exists()


def test_length_from_the_header_and_level_in_dbfs(tmp_path: Path) -> None:
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(SR * 3, dtype=np.float32), SR)
    assert recording_seconds(song) == pytest.approx(3.0)
    assert rms_dbfs(np.zeros(10, dtype=np.float32)) == -np.inf
    # a sine of amplitude 0.5 has RMS 0.5 / sqrt(2): -9.03 dBFS
    assert rms_dbfs(tone(440.0, 1.0)) == pytest.approx(-9.03, abs=0.01)
    text = tmp_path / "lyrics.txt"
    text.write_text("not a recording")
    with pytest.raises(AudioDecodeError, match="lyrics.txt: cannot decode it as audio"):
        recording_seconds(text)


def _long_silence(path: Path, seconds: float) -> Path:
    """Digital silence at 8 kHz, written in blocks (the header is what add-track reads first)."""
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as f:
        block = np.zeros(8000 * 60, dtype=np.int16)
        left = int(seconds * 8000)
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    return path


def test_add_track_refuses_a_recording_over_the_cap_before_anything_else(tmp_path: Path) -> None:
    # No run folder and no server (NEO4J_URI points at nothing in the tests): the length is
    # checked first, so the refusal names it rather than a missing model or database.
    song = _long_silence(tmp_path / "ten minutes.wav", 601.0)
    result = CliRunner().invoke(
        add_track_cmd, [str(song), "--culture", "Cusco Quechua", "--run", str(tmp_path / "none")]
    )
    assert isinstance(result.exception, AudioError)
    message = str(result.exception)
    assert "\n" not in message
    assert "ten minutes.wav" in message and "601.0 s long" in message
    assert "600 s cap" in message and "--max-seconds 601" in message

    short = tmp_path / "short.wav"
    sf.write(short, tone(330.0, 4.0), SR)
    result = CliRunner().invoke(
        add_track_cmd,
        [str(short), "--culture", "x", "--max-seconds", "3", "--run", str(tmp_path / "none")],
    )
    assert isinstance(result.exception, AudioError)
    assert "4.0 s long, over the 3 s cap" in str(result.exception)


def test_max_seconds_must_be_positive(tmp_path: Path) -> None:
    result = CliRunner().invoke(add_track_cmd, [os.devnull, "--culture", "x", "--max-seconds", "0"])
    assert result.exit_code == 2 and "--max-seconds" in result.output
