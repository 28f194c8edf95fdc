"""Known answers for the frontend: a pure tone lands in its mel band; windows tile a track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_signals import SR, tone

from audio.errors import AudioDecodeError
from audio.frontend import (
    FrontendConfig,
    hz_to_mel,
    load_audio,
    log_mel,
    mel_bin_of,
    mel_filterbank,
    mel_to_hz,
    resample,
    track_windows,
)


@pytest.mark.parametrize("freq", [110.0, 440.0, 1000.0, 3000.0])
def test_a_pure_tone_peaks_in_its_mel_band(freq: float) -> None:
    cfg = FrontendConfig()
    mel = log_mel(tone(freq), cfg)
    assert mel.shape == (cfg.n_mels, SR // cfg.hop_length + 1)
    assert int(mel.mean(axis=1).argmax()) == mel_bin_of(freq, cfg)


def test_mel_scale_round_trips_and_filters_cover_the_range() -> None:
    assert float(mel_to_hz(hz_to_mel(440.0))) == pytest.approx(440.0)
    assert float(hz_to_mel(700.0)) == pytest.approx(2595 * np.log10(2))
    bank = mel_filterbank(FrontendConfig()).numpy()
    assert bank.shape == (80, 513)
    assert (bank.sum(axis=1) > 0).all()  # no empty band


def test_louder_is_higher_by_the_gain_in_db() -> None:
    cfg = FrontendConfig()
    quiet, loud = log_mel(tone(440.0) * 0.1, cfg), log_mel(tone(440.0), cfg)
    band = mel_bin_of(440.0, cfg)
    assert float((loud[band] - quiet[band]).mean()) == pytest.approx(20.0, abs=0.1)


def test_resample_keeps_the_frequency() -> None:
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)).astype(np.float32)
    y = resample(x, 44100, 16000)
    assert y.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(16000, 1 / 16000)[spectrum.argmax()] == pytest.approx(440.0)


def test_windows_tile_the_track_and_pad_short_ones() -> None:
    cfg = FrontendConfig()
    x = np.arange(10 * SR, dtype=np.float32)
    w = track_windows(x, cfg)
    assert w.shape == (4, 3 * SR)
    assert w[0, 0] == 0 and w[-1, -1] == x[-1]  # the last window ends at the end
    short = track_windows(np.ones(SR, dtype=np.float32), cfg)
    assert short.shape == (1, 3 * SR) and short[0, SR:].sum() == 0


def test_load_audio_decodes_a_real_clip(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "a.wav"
    sf.write(path, np.stack([tone(440.0, 1.0, 44100)] * 2, axis=1), 44100)  # stereo 44.1 kHz
    y = load_audio(path, 16000)
    assert y.shape == (16000,) and y.dtype == np.float32


def test_load_audio_refuses_a_non_audio_file_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    with pytest.raises(AudioDecodeError, match="notes.txt"):
        load_audio(bad)
    with pytest.raises(AudioDecodeError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")


def test_a_ccmc_mp3_decodes(tmp_path: Path) -> None:
    from loaders.config import data_root
    from loaders.errors import ConfigError

    try:
        root = data_root()
    except ConfigError:
        pytest.skip("SOUNDBRIDGE_DATA is not set")
    clip = next((root / "ccmc" / "cldf" / "songs").glob("*.mp3"))
    y = load_audio(clip)
    assert 8 * SR < len(y) < 12 * SR
    assert 0.01 < float(np.abs(y).max()) <= 1.0
