"""Rendered scores: the MIDI writer's bytes, and one melody rendered in two instruments."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from audio.errors import RenderError
from audio.frontend import FrontendConfig, log_mel, mel_bin_of
from audio.render import Tune, find_soundfont, midi_bytes, render_tunes

SR = 16_000


def _has_fluidsynth() -> bool:
    try:
        find_soundfont()
    except RenderError:
        return False
    return shutil.which("fluidsynth") is not None


needs_fluidsynth = pytest.mark.skipif(
    not _has_fluidsynth(), reason="needs `apt-get install -y fluidsynth fluid-soundfont-gm`"
)


def test_midi_bytes_are_a_format0_file_with_the_notes() -> None:
    data = midi_bytes([(40, 0.0, [(0.0, 0.5, 69), (0.5, 0.5, 72)])])
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert bytes([0xC0, 40]) in data  # program change to violin on channel 0
    assert bytes([0x90, 69, 96]) in data and bytes([0x90, 72, 96]) in data
    assert data.endswith(b"\xff\x2f\x00")


def test_missing_soundfont_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audio.render._SOUNDFONTS", ())
    monkeypatch.delenv("SOUNDBRIDGE_SOUNDFONT", raising=False)
    with pytest.raises(RenderError, match="fluid-soundfont-gm"):
        find_soundfont(tmp_path / "none.sf2")


@needs_fluidsynth
def test_one_melody_in_two_instruments_has_the_same_notes_and_different_timbre(
    tmp_path: Path,
) -> None:
    # A4 then E5 then C5, one second each, on piano and on flute.
    tune = Tune("known", ((0.0, 0.9, 69), (1.0, 0.9, 76), (2.0, 0.9, 72)))
    r = render_tunes([tune], instruments=((0, "piano"), (73, "flute")), cache=tmp_path)
    assert r.waves.shape == (1, 2, 3 * SR)
    cfg = FrontendConfig()
    for j in range(2):
        wave = r.waves[0, j]
        for k, pitch in enumerate((69, 76, 72)):
            seg = wave[int((k + 0.2) * SR) : int((k + 0.7) * SR)]
            spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            freqs = np.fft.rfftfreq(len(seg), 1 / SR)
            # The strongest partial below 1.5 f0 is the fundamental, for both instruments.
            low = freqs < 1.5 * f0
            assert freqs[low][spectrum[low].argmax()] == pytest.approx(f0, rel=0.03)
    # Same notes, different timbre: the spectral envelopes differ clearly.
    a, b = (log_mel(r.waves[0, j], cfg).mean(axis=1) for j in range(2))
    assert np.abs(a - b).mean() > 3.0
    assert mel_bin_of(440.0, cfg) > 0
    # Cached: a second call reads the file instead of rendering.
    again = render_tunes([tune], instruments=((0, "piano"), (73, "flute")), cache=tmp_path)
    assert np.array_equal(again.waves, r.waves)
