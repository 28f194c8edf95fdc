"""Recordings → log-mel spectrograms in fixed windows: the input every audio model sees.

Decoding is done by ``soundfile`` (libsndfile ≥ 1.1 reads the CCMC MP3s), resampling by
:func:`scipy.signal.resample_poly`, and the log-mel by :func:`torch.stft` and an HTK-style mel
filterbank written here (no torchaudio: one fewer binary dependency to keep in step with torch).

A track is cut into fixed windows of ``window_seconds`` (3 s by default); models see windows and
a track's factors are the mean of its windows' factors (:func:`track_windows`).

Examples:
    >>> import numpy as np
    >>> cfg = FrontendConfig()
    >>> sr = cfg.sample_rate
    >>> tone = np.sin(2 * np.pi * 440.0 * np.arange(sr) / sr).astype(np.float32)
    >>> mel = log_mel(tone, cfg)
    >>> mel.shape[0] == cfg.n_mels, int(mel.mean(axis=1).argmax()) == mel_bin_of(440.0, cfg)
    (True, True)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

from audio.errors import AudioDecodeError

__all__ = [
    "FrontendConfig",
    "load_audio",
    "resample",
    "hz_to_mel",
    "mel_to_hz",
    "mel_filterbank",
    "mel_bin_of",
    "log_mel",
    "log_mel_batch",
    "track_windows",
]


@dataclass(frozen=True)
class FrontendConfig:
    """How waveforms become log-mel windows.

    Args:
        sample_rate: the rate every waveform is resampled to (Hz).
        n_fft: STFT size (samples).
        hop_length: STFT hop (samples); 320 at 16 kHz is 20 ms.
        n_mels: mel bands.
        f_min: lowest band edge (Hz).
        f_max: highest band edge (Hz); at most ``sample_rate / 2``.
        window_seconds: length of the fixed windows a track is cut into.
        top_db: the log-mel floor, in dB below 1.0 power.
    """

    sample_rate: int = 16_000
    n_fft: int = 1024
    hop_length: int = 320
    n_mels: int = 80
    f_min: float = 40.0
    f_max: float = 8_000.0
    window_seconds: float = 3.0
    top_db: float = 80.0

    @property
    def window_samples(self) -> int:
        """Samples in one window."""
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def window_frames(self) -> int:
        """Frames of the log-mel of one window (centred STFT)."""
        return self.window_samples // self.hop_length + 1

    def to_dict(self) -> dict[str, float | int]:
        """The settings as a plain dict (for checkpoints)."""
        return asdict(self)


def load_audio(path: str | os.PathLike[str], sample_rate: int = 16_000) -> np.ndarray:
    """Decode an audio file to mono float32 at ``sample_rate``.

    Args:
        path: any file libsndfile reads (WAV, FLAC, OGG, MP3).
        sample_rate: the rate to resample to.

    Returns:
        The waveform in [-1, 1]. Shapes: ``(samples,)``.

    Raises:
        AudioDecodeError: when the file is missing, is not audio, or holds no samples.
    """
    try:
        data, sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioDecodeError(
            f"{path}: cannot decode it as audio ({e}); give a WAV, FLAC, OGG or MP3 file"
        ) from e
    except OSError as e:
        raise AudioDecodeError(f"{path}: cannot read it ({e}); check the path") from e
    if data.shape[0] == 0:
        raise AudioDecodeError(f"{path}: the file holds no samples; give a non-empty recording")
    mono = data.mean(axis=1)
    return resample(mono, int(sr), sample_rate)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample with a polyphase filter (exact rational ratio, e.g. 44100 → 16000 = 160/441).

    Args:
        wave: the signal. Shapes: ``(samples,)``.
        orig_rate: its rate (Hz).
        target_rate: the wanted rate (Hz).

    Returns:
        The resampled float32 signal. Shapes: ``(ceil(samples * target / orig),)``.

    Examples:
        >>> resample(np.zeros(44100, dtype=np.float32), 44100, 16000).shape
        (16000,)
    """
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float32)
    ratio = Fraction(target_rate, orig_rate)
    out = resample_poly(wave, ratio.numerator, ratio.denominator)
    return np.asarray(out, dtype=np.float32)


def hz_to_mel(hz: float | np.ndarray) -> float | np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: float | np.ndarray) -> float | np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def _filterbank(
    n_fft: int, n_mels: int, sample_rate: int, f_min: float, f_max: float
) -> np.ndarray:
    n_freqs = n_fft // 2 + 1
    freqs = np.linspace(0.0, sample_rate / 2.0, n_freqs)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    bank = np.clip(np.minimum(rising, falling), 0.0, None)
    # Slaney-style area normalisation keeps broad high bands from dominating the sum.
    bank *= 2.0 / (upper - lower)
    return bank.astype(np.float32)


def mel_filterbank(cfg: FrontendConfig) -> torch.Tensor:
    """Triangular mel filters on the STFT bins of ``cfg``.

    Returns:
        Shapes: ``(n_mels, n_fft // 2 + 1)``.
    """
    if cfg.f_max > cfg.sample_rate / 2:
        raise ValueError(f"f_max={cfg.f_max} is above the Nyquist frequency {cfg.sample_rate / 2}")
    bank = _filterbank(cfg.n_fft, cfg.n_mels, cfg.sample_rate, cfg.f_min, cfg.f_max)
    return torch.from_numpy(bank)


def mel_bin_of(hz: float, cfg: FrontendConfig) -> int:
    """The mel band whose centre is nearest ``hz`` (the known answer for a pure tone)."""
    centres = mel_to_hz(np.linspace(hz_to_mel(cfg.f_min), hz_to_mel(cfg.f_max), cfg.n_mels + 2))
    return int(np.abs(centres[1:-1] - hz).argmin())


def log_mel_batch(waves: torch.Tensor, cfg: FrontendConfig) -> torch.Tensor:
    """Log-mel power spectrograms (dB) of a batch of waveforms.

    Args:
        waves: Shapes: ``(batch, samples)``.
        cfg: the frontend settings.

    Returns:
        dB values, floored at ``-top_db``. Shapes: ``(batch, n_mels, samples // hop + 1)``.
    """
    window = torch.hann_window(cfg.n_fft, dtype=waves.dtype, device=waves.device)
    spec = torch.stft(
        waves,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(mel_filterbank(cfg).to(waves.device, waves.dtype), power)
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    return db.clamp_min(-cfg.top_db)


def log_mel(wave: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """Log-mel spectrogram (dB) of one waveform.

    Args:
        wave: Shapes: ``(samples,)``.
        cfg: the frontend settings.

    Returns:
        Shapes: ``(n_mels, samples // hop + 1)``.
    """
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
    return log_mel_batch(x, cfg)[0].numpy()


def track_windows(
    wave: np.ndarray, cfg: FrontendConfig, *, hop_seconds: float | None = None
) -> np.ndarray:
    """Cut a waveform into fixed windows (the last one ends at the end; short tracks are padded).

    Args:
        wave: Shapes: ``(samples,)``.
        cfg: gives the window length.
        hop_seconds: distance between window starts; default: the window length (no overlap).

    Returns:
        Shapes: ``(n_windows, window_samples)``, ``n_windows >= 1``.

    Examples:
        >>> cfg = FrontendConfig()
        >>> track_windows(np.zeros(10 * 16000, dtype=np.float32), cfg).shape
        (4, 48000)
    """
    n = cfg.window_samples
    hop = n if hop_seconds is None else max(1, int(round(hop_seconds * cfg.sample_rate)))
    if len(wave) <= n:
        out = np.zeros((1, n), dtype=np.float32)
        out[0, : len(wave)] = wave
        return out
    starts = list(range(0, len(wave) - n + 1, hop))
    if starts[-1] + n < len(wave):
        starts.append(len(wave) - n)
    return np.stack([wave[s : s + n] for s in starts]).astype(np.float32)
