"""Synthetic signals with known answers for the audio tests."""

from __future__ import annotations

import numpy as np

SR = 16_000


def tone(freq: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A pure sine at ``freq`` Hz, amplitude 0.5."""
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def melody(pitches: list[int], harmonics: list[float], seconds: float = 3.0) -> np.ndarray:
    """Notes of equal length with the given harmonic amplitudes (a crude 'instrument')."""
    n = int(seconds * SR) // len(pitches)
    out = []
    t = np.arange(n) / SR
    for p in pitches:
        f = 440.0 * 2 ** ((p - 69) / 12)
        out.append(sum(a * np.sin(2 * np.pi * f * (k + 1) * t) for k, a in enumerate(harmonics)))
    x = np.concatenate(out)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)
