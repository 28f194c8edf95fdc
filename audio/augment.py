"""Waveform augmentations: pitch shift, time stretch, EQ, gain, noise, crop.

They make the two "views" of a recording that InfoNCE pulls together in ``z_c`` (what is played
survives a transposition, a tempo change, another room or microphone). Each one is a plain
function of a float32 waveform; :class:`Augmenter` chains random draws of them.

Time stretch is a phase vocoder on :func:`torch.stft`; pitch shift is a time stretch by ``1/f``
followed by resampling by ``f`` (so the duration is kept and every partial moves by ``f``).

Examples:
    >>> import numpy as np
    >>> sr = 16000
    >>> tone = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    >>> up = pitch_shift(tone, sr, 12.0)
    >>> spectrum = np.abs(np.fft.rfft(up[4000:12000] * np.hanning(8000)))
    >>> round(float(np.fft.rfftfreq(8000, 1 / sr)[spectrum.argmax()]))
    880
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "gain",
    "add_noise",
    "equalize",
    "time_stretch",
    "pitch_shift",
    "crop",
    "resample_linear",
    "Augmenter",
]


def gain(wave: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels. Shapes: ``wave: (samples,)`` → ``(samples,)``."""
    return (wave * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at a signal-to-noise ratio of ``snr_db``.

    Shapes: ``wave: (samples,)`` → ``(samples,)``.
    """
    power = float(np.mean(wave.astype(np.float64) ** 2)) + 1e-12
    sigma = math.sqrt(power / 10.0 ** (snr_db / 10.0))
    return (wave + rng.normal(0.0, sigma, size=wave.shape)).astype(np.float32)


def equalize(
    wave: np.ndarray, sample_rate: int, centres_hz: np.ndarray, gains_db: np.ndarray
) -> np.ndarray:
    """Apply a smooth EQ curve: ``gains_db`` at ``centres_hz``, interpolated on log frequency.

    Args:
        wave: Shapes: ``(samples,)``.
        sample_rate: its rate (Hz).
        centres_hz: increasing band centres. Shapes: ``(bands,)``.
        gains_db: gain at each centre. Shapes: ``(bands,)``.

    Returns:
        Shapes: ``(samples,)``.
    """
    spectrum = np.fft.rfft(wave.astype(np.float64))
    freqs = np.fft.rfftfreq(len(wave), 1.0 / sample_rate)
    curve_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(centres_hz), gains_db)
    out = np.fft.irfft(spectrum * 10.0 ** (curve_db / 20.0), n=len(wave))
    return out.astype(np.float32)


def time_stretch(wave: np.ndarray, rate: float, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Change the tempo by ``rate`` (> 1 is faster) keeping the pitch (phase vocoder).

    Args:
        wave: Shapes: ``(samples,)``.
        rate: speed factor.
        n_fft: STFT size.
        hop: STFT hop.

    Returns:
        Shapes: ``(round(samples / rate),)``.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=window, return_complex=True)  # (freqs, frames)
    n_freqs, n_frames = spec.shape
    steps = torch.arange(0.0, n_frames - 1, rate, dtype=torch.float64)
    idx = steps.floor().long()
    alpha = (steps - idx).to(torch.float32)[None, :]
    left, right = spec[:, idx], spec[:, idx + 1]
    magnitude = (1.0 - alpha) * left.abs() + alpha * right.abs()
    expected = torch.linspace(0.0, math.pi * hop, n_freqs)[:, None]  # 2π·hop·k/n_fft
    delta = right.angle() - left.angle() - expected
    delta = delta - 2.0 * math.pi * torch.round(delta / (2.0 * math.pi))
    phase = spec[:, :1].angle() + torch.cumsum(delta + expected, dim=1)
    phase = torch.cat([spec[:, :1].angle(), phase[:, :-1]], dim=1)
    stretched = torch.polar(magnitude, phase)
    length = int(round(len(wave) / rate))
    out = torch.istft(stretched, n_fft, hop, window=window).numpy()
    fitted = np.zeros(length, dtype=np.float32)
    fitted[: min(length, len(out))] = out[:length]
    return fitted


def resample_linear(wave: np.ndarray, length: int) -> np.ndarray:
    """Resample to ``length`` samples by linear interpolation (cheap; for augmentation only).

    Shapes: ``wave: (samples,)`` → ``(length,)``.
    """
    positions = np.linspace(0.0, len(wave) - 1, length)
    return np.interp(positions, np.arange(len(wave)), wave).astype(np.float32)


def pitch_shift(wave: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Transpose by ``semitones`` keeping the duration.

    Args:
        wave: Shapes: ``(samples,)``.
        sample_rate: its rate (kept for a stable signature; the shift is rate-free).
        semitones: positive is up.

    Returns:
        Shapes: ``(samples,)``.
    """
    del sample_rate
    if semitones == 0:
        return wave.astype(np.float32)
    factor = 2.0 ** (semitones / 12.0)
    longer = time_stretch(wave, 1.0 / factor)
    return resample_linear(longer, len(wave))


def crop(wave: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample excerpt (zero-padded when the wave is shorter).

    Shapes: ``wave: (samples,)`` → ``(length,)``.
    """
    if len(wave) <= length:
        out = np.zeros(length, dtype=np.float32)
        out[: len(wave)] = wave
        return out
    start = int(rng.integers(0, len(wave) - length + 1))
    return wave[start : start + length].astype(np.float32)


@dataclass(frozen=True)
class Augmenter:
    """Random chain: crop (with stretch margin) → time stretch → pitch shift → EQ → gain → noise.

    Each transform fires with probability ``p``; the output always has ``length`` samples.
    ``max_stretch=1`` or ``max_semitones=0`` turns that (costly) transform off.

    Args:
        sample_rate: rate of the waveforms (Hz).
        length: output length in samples.
        p: probability of each transform.
        max_semitones: pitch shifts are uniform in ``[-max, max]``.
        max_stretch: tempo factors are log-uniform in ``[1/max, max]``.
        eq_db: EQ band gains are uniform in ``[-eq_db, eq_db]``.
        gain_db: gains are uniform in ``[-gain_db, gain_db]``.
        snr_db: noise SNR uniform in this range.
    """

    sample_rate: int = 16_000
    length: int = 48_000
    p: float = 0.5
    max_semitones: float = 2.0
    max_stretch: float = 1.15
    eq_db: float = 8.0
    gain_db: float = 6.0
    snr_db: tuple[float, float] = (10.0, 40.0)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw one augmented view. Shapes: ``wave: (samples,)`` → ``(length,)``."""
        fires = rng.random(5) < self.p
        rate = 1.0
        fires[0] &= self.max_stretch > 1.0
        fires[1] &= self.max_semitones > 0.0
        if fires[0]:
            rate = float(np.exp(rng.uniform(-1.0, 1.0) * np.log(self.max_stretch)))
        # Crop enough for the stretch to end at ``length`` samples.
        x = crop(wave, int(math.ceil(self.length * rate)) + 1, rng)
        if fires[0]:
            x = time_stretch(x, rate)
        x = crop(x, self.length, rng)
        if fires[1]:
            x = pitch_shift(x, self.sample_rate, float(rng.uniform(-1, 1) * self.max_semitones))
        if fires[2]:
            centres = np.geomspace(100.0, 0.45 * self.sample_rate, 6)
            x = equalize(x, self.sample_rate, centres, rng.uniform(-self.eq_db, self.eq_db, 6))
        if fires[3]:
            x = gain(x, float(rng.uniform(-self.gain_db, self.gain_db)))
        if fires[4]:
            x = add_noise(x, float(rng.uniform(*self.snr_db)), rng)
        return x

    def variant(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A whole-track tempo and pitch variant (both always drawn), same length as ``wave``.

        Training draws a few of these per song once, then cheap per-view transforms on top.
        Shapes: ``wave: (samples,)`` → ``(samples,)``.
        """
        rate = float(np.exp(rng.uniform(-1.0, 1.0) * np.log(max(self.max_stretch, 1.0))))
        x = time_stretch(wave, rate) if rate != 1.0 else wave
        x = pitch_shift(x, self.sample_rate, float(rng.uniform(-1, 1) * self.max_semitones))
        return (
            crop(x, len(wave), rng) if len(x) >= len(wave) else np.pad(x, (0, len(wave) - len(x)))
        )
