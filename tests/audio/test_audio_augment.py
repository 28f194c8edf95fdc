"""Known answers for the augmentations: a 440 Hz tone moves to the right pitch, and so on."""

from __future__ import annotations

import numpy as np
import pytest
from audio_signals import SR, tone

from audio.augment import Augmenter, add_noise, crop, equalize, gain, pitch_shift, time_stretch


def peak_hz(x: np.ndarray) -> float:
    mid = x[len(x) // 4 : 3 * len(x) // 4]
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    return float(np.fft.rfftfreq(len(mid), 1 / SR)[spectrum.argmax()])


@pytest.mark.parametrize("semitones", [12.0, 7.0, -5.0])
def test_pitch_shift_moves_a_tone_by_the_interval(semitones: float) -> None:
    y = pitch_shift(tone(440.0), SR, semitones)
    assert len(y) == SR
    assert peak_hz(y) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.01)


def test_time_stretch_changes_length_not_pitch() -> None:
    y = time_stretch(tone(440.0, 2.0), 1.25)
    assert len(y) == int(round(2 * SR / 1.25))
    assert peak_hz(y) == pytest.approx(440.0, rel=0.01)


def test_gain_noise_eq_and_crop() -> None:
    x = tone(440.0)
    assert np.abs(gain(x, 6.0)).max() == pytest.approx(np.abs(x).max() * 10 ** (6 / 20), rel=1e-4)
    noisy = add_noise(x, 10.0, np.random.default_rng(0))
    snr = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.3)
    # -12 dB around 440 Hz, 0 dB elsewhere: the tone loses 12 dB.
    centres = np.array([100.0, 440.0, 4000.0])
    cut = equalize(x, SR, centres, np.array([0.0, -12.0, 0.0]))
    ratio_db = 20 * np.log10(np.abs(cut[4000:12000]).max() / np.abs(x[4000:12000]).max())
    assert ratio_db == pytest.approx(-12.0, abs=0.5)
    assert crop(x, 100, np.random.default_rng(0)).shape == (100,)
    assert crop(x[:10], 100, np.random.default_rng(0))[10:].sum() == 0


def test_augmenter_gives_fixed_length_views_that_differ() -> None:
    aug = Augmenter(p=1.0)
    rng = np.random.default_rng(0)
    x = tone(440.0, 5.0)
    a, b = aug(x, rng), aug(x, rng)
    assert a.shape == b.shape == (3 * SR,)
    assert not np.allclose(a, b)
    v = aug.variant(x, rng)
    assert v.shape == x.shape
