"""The musicnn port against the original: outputs made by TensorFlow 2.15 and librosa 0.11 from
the package's own checkpoints (tests/fixtures/musicnn/make_reference.py), read back here with
no TensorFlow at all."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from audio.errors import BackboneError
from audio.factorizer import AudioFactorizer
from audio.musicnn import (
    MUSICNN_MODELS,
    Musicnn,
    MusicnnEmbedder,
    cached_embeddings,
    musicnn_checkpoint,
    musicnn_log_mel,
    read_tf_checkpoint,
    slaney_mel_filterbank,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "musicnn"
sys.path.insert(0, str(FIXTURES))
from make_reference import MEL_FRAMES, reference_input, reference_wave  # noqa: E402

REFERENCE = json.loads((FIXTURES / "tf_reference.json").read_text())


def batch_rounding(values: np.ndarray, ulps: int = 64) -> float:
    """How far two float32 evaluations of the same network on the same input may differ.

    The same network may run different kernels for different batch sizes (oneDNN picks them by
    shape and by the machine's cores), which sum the same terms in another order. Each output
    then moves by a few units in the last place of the largest activation (1.5e-5 was seen on an
    embedding whose largest value is 53, i.e. 2.4 ulps); ``ulps`` leaves a wide margin for
    deeper reductions and other machines while staying far below any real change of input.
    """
    return float(ulps * np.finfo(np.float32).eps * np.abs(values).max())


@pytest.fixture(scope="module")
def msd() -> MusicnnEmbedder:
    return MusicnnEmbedder("MSD_musicnn")


def test_checkpoint_reader_finds_every_variable_with_its_shape() -> None:
    ck = read_tf_checkpoint(musicnn_checkpoint("MSD_musicnn"))
    assert ck["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert ck["conv2d_5/kernel"].shape == (7, 561, 1, 64)
    assert ck["dense/kernel"].shape == (1506, 200)
    assert ck["dense_1/bias"].shape == (50,)
    assert sum(k.endswith("/moving_variance") for k in ck) == 11
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in ck.values())


@pytest.mark.parametrize("model", MUSICNN_MODELS)
def test_port_reproduces_tensorflow(model: str) -> None:
    net = Musicnn.from_checkpoint(musicnn_checkpoint(model))
    with torch.no_grad():
        logits, penultimate, mean_pool, max_pool = net(torch.from_numpy(reference_input()))
    ref = REFERENCE[model]
    np.testing.assert_allclose(logits.numpy(), ref["logits"], atol=2e-4)
    np.testing.assert_allclose(penultimate.numpy(), ref["penultimate"], atol=2e-4)
    assert mean_pool.shape == max_pool.shape == (2, 753)


def test_front_end_reproduces_librosa() -> None:
    mel = musicnn_log_mel(torch.from_numpy(reference_wave())[None])[0].numpy()
    assert mel.shape == (63, 96)
    for frame in MEL_FRAMES:
        # float16 rounding of the mel power before the log bounds the difference
        np.testing.assert_allclose(mel[frame], REFERENCE["log_mel_frames"][str(frame)], atol=2e-3)


def test_slaney_filters_are_linear_below_1khz_and_peak_at_their_centres() -> None:
    bank = slaney_mel_filterbank().numpy()
    freqs = np.linspace(0, 8000, 257)
    peaks = freqs[bank.argmax(axis=1)]
    assert np.all(np.diff(peaks) >= 0)
    low = peaks[peaks < 900]
    steps = np.diff(low)
    assert np.ptp(steps) <= 2 * (freqs[1] - freqs[0])  # equal spacing up to one FFT bin


def test_embedder_shapes_resampling_and_short_tracks(msd: MusicnnEmbedder) -> None:
    t = np.arange(22_050 * 4) / 22_050
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = msd.embed([tone, tone[:5000]], sample_rate=22_050)
    assert out.shape == (2, MusicnnEmbedder.dim) and out.dtype == np.float32
    assert np.isfinite(out).all() and not np.allclose(out[0], out[1])
    again = msd.embed([tone], sample_rate=22_050)
    # Alone and beside another track, the tone's patches go through float32 kernels chosen for
    # another batch size, so the sums round differently: allow rounding, never a real change.
    tol = batch_rounding(out)
    np.testing.assert_allclose(again[0], out[0], rtol=0, atol=tol)
    assert np.abs(out[0] - out[1]).max() > 1e3 * tol  # two different inputs are far outside it


def test_cache_is_keyed_by_the_samples(msd: MusicnnEmbedder, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    waves = [0.1 * rng.standard_normal(16_000).astype(np.float32) for _ in range(2)]
    first = cached_embeddings(msd, waves, 16_000, tmp_path)
    assert len(list(tmp_path.glob("musicnn-MSD_musicnn-*.npy"))) == 1
    np.testing.assert_array_equal(cached_embeddings(msd, waves, 16_000, tmp_path), first)
    changed = [waves[0], waves[1] * 0.5]
    cached_embeddings(msd, changed, 16_000, tmp_path)
    assert len(list(tmp_path.glob("musicnn-MSD_musicnn-*.npy"))) == 2


def test_missing_package_and_bad_files_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(BackboneError, match="unknown musicnn model"):
        musicnn_checkpoint("MSD_big")
    (tmp_path / "x.index").write_bytes(b"\0" * 64)
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(BackboneError, match="not a TensorFlow checkpoint index"):
        read_tf_checkpoint(tmp_path / "x")
    with pytest.raises(BackboneError, match="no TensorFlow checkpoint"):
        read_tf_checkpoint(tmp_path / "missing")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackboneError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        musicnn_checkpoint()


def test_factorizer_reads_the_context_and_refuses_a_wrong_one(toy_songs) -> None:  # type: ignore[no-untyped-def]
    tiny = {"dim_c": 4, "dim_s": 3, "dim_a": 2, "channels": (8,), "batch_size": 6, "n_variants": 1}
    f = AudioFactorizer(**tiny, epochs=1)
    waves = [toy_songs.wave(i) for i in range(len(toy_songs.track_ids))]
    context = f.embed(waves)
    assert context is not None and context.shape == (12, MusicnnEmbedder.dim)
    with pytest.raises(ValueError, match=r"context has shape \(3, 1706\); expected \(12, 1706\)"):
        AudioFactorizer(**tiny, epochs=1).fit(toy_songs, context=context[:3])
    f.fit(toy_songs, context=context)
    assert f.model_config_.context_dim == MusicnnEmbedder.dim
    z = f.transform(waves[:2], context=context[:2])
    computed = f.transform(waves[:2])  # its context embedded in a batch of 2, not of 12
    np.testing.assert_allclose(computed, z, rtol=0, atol=batch_rounding(z))  # computed == given
    other = context[:2].copy()
    other[:, :] = other[::-1]
    assert not np.allclose(f.transform(waves[:2], context=other), z, atol=1e-4)
    plain = AudioFactorizer(**tiny, epochs=1, pretrained=None).fit(toy_songs)
    assert plain.embed(waves) is None and plain.model_config_.context_dim == 0


def test_a_model_saved_before_the_pretrained_option_loads_without_it(
    toy_songs,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    tiny = {"dim_c": 4, "dim_s": 3, "dim_a": 2, "channels": (8,), "batch_size": 6, "n_variants": 1}
    f = AudioFactorizer(**tiny, epochs=1, pretrained=None).fit(toy_songs)
    f.save(tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=False)
    del state["params"]["pretrained"]
    torch.save(state, tmp_path / "old.pt")
    old = AudioFactorizer.load(tmp_path / "old.pt")
    assert old.pretrained is None and old.embed([toy_songs.wave(0)]) is None
