"""The audio factor model the package ships (audio/data/default_run): small, loadable, its factors
are its own, its recorded figures are what its factors give, and a fresh run folder starts from it
without decoding or embedding anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import audio.run as audio_run
from audio.factorizer import AudioFactorizer
from audio.frontend import load_audio
from audio.run import (
    factor_probes,
    install_packaged_run,
    packaged_run,
    recordings_digest,
    song_factors,
)
from loaders.ccmc import load_ccmc
from loaders.config import data_root

#: What the package may carry for it in all.
MAX_BYTES = 10_000_000


@pytest.fixture(scope="module")
def packed():  # type: ignore[no-untyped-def]
    packed = packaged_run()
    assert packed is not None, "audio/data/default_run is incomplete: run `make packaged-run`"
    return packed


@pytest.fixture(scope="module")
def songs():  # type: ignore[no-untyped-def]
    return load_ccmc(data_root() / "ccmc").songs.reset_index(drop=True)


@pytest.fixture(scope="module")
def factors(packed):  # type: ignore[no-untyped-def]
    with np.load(packed.folder / "factors.npz") as f:
        return [str(i) for i in f["ids"]], np.asarray(f["z"]), str(f["digest"])


def test_it_is_small_and_says_how_it_was_made(packed) -> None:  # type: ignore[no-untyped-def]
    size = sum(p.stat().st_size for p in packed.folder.iterdir() if p.is_file())
    assert 0 < size <= MAX_BYTES
    assert packed.figures["command"] == "make packaged-run"


def test_its_factors_cover_the_data_s_recordings(packed, songs, factors) -> None:  # type: ignore[no-untyped-def]
    ids, z, digest = factors
    model = AudioFactorizer.load(packed.folder / "model.pt")
    assert ids == songs["track_id"].astype(str).tolist()
    assert z.shape == (len(songs), sum(model.dims_))
    assert list(model.dims_) == packed.figures["dims"]
    assert digest == packed.figures["recordings_sha1"] == recordings_digest(None, ids)


def test_its_factors_are_what_its_model_computes(packed, songs, factors) -> None:  # type: ignore[no-untyped-def]
    ids, z, _ = factors
    model = AudioFactorizer.load(packed.folder / "model.pt")
    rows = [0, len(ids) // 2, len(ids) - 1]
    rate = model.frontend_.sample_rate
    waves = [
        load_audio(songs.at[r, "audio_path"], rate)[: int(12.0 * rate)] for r in rows
    ]  # as load_ccmc_audio cuts them
    again = model.transform(waves)
    scale = float(np.abs(z).max())
    np.testing.assert_allclose(again, z[rows], rtol=0, atol=1e-4 * scale)
    assert np.abs(z[rows[0]] - z[rows[1]]).max() > 1e-2 * scale  # distinct songs are far apart


def test_its_recorded_figures_are_what_its_factors_give(packed, songs, factors) -> None:  # type: ignore[no-untyped-def]
    import json

    _, z, _ = factors
    model = AudioFactorizer.load(packed.folder / "model.pt")
    split = json.loads((packed.folder / "split.json").read_text())
    probes = factor_probes(*model.split(z), songs, split["held_out_societies"])
    recorded = packed.figures["probes"]
    for name in ("function from z_a", "function from MIRtoolbox", "region from z_s"):
        assert probes[name].accuracy == pytest.approx(recorded[name]["accuracy"], abs=1e-9)
        assert probes[name].balanced_accuracy == pytest.approx(
            recorded[name]["balanced_accuracy"], abs=1e-9
        )


def test_a_fresh_run_starts_from_it_without_decoding(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "audio" / "default"

    def no_decoding(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("the packaged factors should have been used")

    monkeypatch.setattr(audio_run, "load_songs", no_decoding)
    assert install_packaged_run(run) is True
    model, _ = audio_run.load_run(run)
    ids, z = song_factors(model, run)
    packed = packaged_run()
    assert packed is not None
    with np.load(packed.folder / "factors.npz") as f:
        np.testing.assert_array_equal(z, f["z"])
    assert len(ids) == z.shape[0]
    assert install_packaged_run(run) is False  # a run with a model is left alone


def test_other_recordings_get_the_model_but_not_its_factors(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    monkeypatch.setattr(audio_run, "recordings_digest", lambda *_a, **_k: "something else")
    said: list[str] = []
    assert install_packaged_run(run, log=said.append) is True
    assert (run / "model.pt").is_file() and not (run / "song_factors.npz").exists()
    assert "differ" in said[0]
