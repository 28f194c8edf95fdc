"""The CCMC recordings as arrays, their labels as class indices, and the society-grouped split.

Decoding the 1,007 MP3s takes about half a minute, so the 16 kHz waveforms are cached in one
``.npz`` under ``$SOUNDBRIDGE_HOME/cache/audio`` (outside the repository).

Labels: ``function`` (-1 for the withheld songs: their labels are never recovered), ``region``
(the society's HRAF region, public for every song) and ``society``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audio.frontend import load_audio
from loaders.ccmc import load_ccmc
from loaders.files import replacing

__all__ = ["CCMCAudio", "audio_cache_dir", "load_ccmc_audio", "society_split"]


@dataclass(frozen=True, eq=False)
class CCMCAudio:
    """The CCMC songs, decoded.

    Attributes:
        track_ids: song ids (``"NHS2-TBMU"``), in the loader's order.
        waves: float32 at ``sample_rate``, zero-padded. Shapes: ``(n_tracks, max_samples)``.
        lengths: true length of each wave in samples. Shapes: ``(n_tracks,)``.
        songs: the loader's songs table (same order).
        sample_rate: Hz.
    """

    track_ids: list[str]
    waves: np.ndarray
    lengths: np.ndarray
    songs: pd.DataFrame
    sample_rate: int

    def wave(self, i: int) -> np.ndarray:
        """Track ``i``'s samples without the padding. Shapes: ``(lengths[i],)``."""
        return self.waves[i, : self.lengths[i]]

    def track_waves(self) -> list[np.ndarray]:
        """Every track's samples without the padding, in order (views, no copies)."""
        return [self.wave(i) for i in range(len(self.track_ids))]

    def take(self, idx: np.ndarray) -> CCMCAudio:
        """A subset (for quick runs and tests). ``idx``: integer positions."""
        return CCMCAudio(
            [self.track_ids[i] for i in idx],
            self.waves[idx],
            self.lengths[idx],
            self.songs.iloc[idx].reset_index(drop=True),
            self.sample_rate,
        )


def audio_cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$SOUNDBRIDGE_HOME/cache/audio``."""
    if path is not None:
        return Path(path)
    home = os.environ.get("SOUNDBRIDGE_HOME") or "~/.soundbridge"
    return Path(home).expanduser() / "cache" / "audio"


def load_ccmc_audio(
    ccmc_folder: str | os.PathLike[str],
    *,
    sample_rate: int = 16_000,
    max_seconds: float = 12.0,
    cache: Path | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CCMCAudio:
    """Decode every CCMC clip (or the first ``limit``) at ``sample_rate``, cached.

    Raises:
        DataError: from the loader, for a malformed dataset.
        AudioDecodeError: when a clip cannot be decoded.
    """
    songs = load_ccmc(ccmc_folder).songs.reset_index(drop=True)
    if limit is not None:
        songs = songs.iloc[:limit].reset_index(drop=True)
    ids = songs["track_id"].astype(str).tolist()
    key = hashlib.sha1(("|".join(ids) + f"|{sample_rate}|{max_seconds}").encode()).hexdigest()[:12]
    path = audio_cache_dir(cache) / f"ccmc-{sample_rate}-{len(ids)}-{key}.npz"
    if path.is_file():
        with np.load(path) as f:
            return CCMCAudio(ids, f["waves"], f["lengths"], songs, sample_rate)
    n_max = int(max_seconds * sample_rate)
    waves = np.zeros((len(ids), n_max), dtype=np.float32)
    lengths = np.zeros(len(ids), dtype=np.int64)
    for i, p in enumerate(songs["audio_path"].astype(str)):
        w = load_audio(p, sample_rate)[:n_max]
        waves[i, : len(w)] = w
        lengths[i] = len(w)
        if progress is not None:
            progress(i + 1, len(ids))
    with replacing(path) as tmp:
        np.savez(tmp, waves=waves, lengths=lengths)
    return CCMCAudio(ids, waves, lengths, songs, sample_rate)


def society_split(songs: pd.DataFrame, test_fraction: float = 0.25, seed: int = 0) -> list[str]:
    """Choose held-out societies among those with labelled songs, stratified by HRAF region.

    Every song of a held-out society is held out from every supervised loss (function, region,
    society) and from the probes' training side, so test scores measure generalisation to
    *unseen societies*. Societies whose songs are all withheld are never test societies.

    Args:
        songs: the CCMC songs table (``society_id``, ``function``, ``hraf_region``).
        test_fraction: share of labelled songs to hold out (one fold of ``round(1 / fraction)``).
        seed: shuffling seed.

    Returns:
        The held-out society ids, sorted.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labelled = songs[songs["function"].notna()]
    n_splits = max(2, int(round(1.0 / test_fraction)))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, test_idx = next(
        folds.split(
            labelled, labelled["hraf_region"].astype(str), labelled["society_id"].astype(str)
        )
    )
    return sorted(labelled["society_id"].iloc[test_idx].astype(str).unique())
