"""Small synthetic inputs for the audio tests: tones, a toy song table, a toy rendered set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from audio_signals import SR, melody, tone

from audio.dataset import CCMCAudio
from audio.render import RenderedSet


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """Tiny models on a shared CPU: one thread avoids OpenMP spin-waits (2-8x faster here)."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_songs() -> CCMCAudio:
    """12 'songs' of 4 s: 4 societies in 2 regions, 3 functions, one song unlabelled."""
    rng = np.random.default_rng(0)
    rows, waves = [], []
    for i in range(12):
        soc = f"S{i % 4}"
        region = "North" if i % 4 < 2 else "South"
        func = ["Dance", "Lullaby", "Work"][i % 3] if i != 11 else None
        base = 200.0 + 50 * (i % 3) + (100 if region == "South" else 0)
        w = tone(base, 4.0) + 0.05 * rng.standard_normal(4 * SR).astype(np.float32)
        waves.append(w)
        rows.append(
            {"track_id": f"T{i}", "society_id": soc, "function": func, "hraf_region": region}
        )
    songs = pd.DataFrame(rows).astype({"function": "string"})
    return CCMCAudio([r["track_id"] for r in rows], np.stack(waves), np.full(12, 4 * SR), songs, SR)


@pytest.fixture(scope="session")
def toy_rendered() -> RenderedSet:
    """6 melodies x 2 'instruments' (different harmonic recipes), 3 s each."""
    rng = np.random.default_rng(1)
    tunes = [list(rng.integers(60, 76, size=6)) for _ in range(6)]
    recipes = [[1.0, 0.5, 0.25], [1.0, 0.0, 0.6, 0.0, 0.3]]
    waves = np.stack([np.stack([melody(t, r) for r in recipes]) for t in tunes])
    return RenderedSet(waves, [f"tune{i}" for i in range(6)], ["bright", "hollow"], SR)
