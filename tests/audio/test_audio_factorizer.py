"""The estimator on toy data: shapes, save/load round-trip, resume, held-out labels unseen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audio.dataset import CCMCAudio
from audio.errors import CheckpointError
from audio.factorizer import AudioFactorizer
from audio.render import RenderedSet

TINY = {"dim_c": 4, "dim_s": 3, "dim_a": 2, "channels": (8, 8), "batch_size": 6, "n_variants": 1}


def test_params_are_stored_as_given_and_nothing_is_learned_in_init() -> None:
    f = AudioFactorizer(**TINY, epochs=2)
    assert f.epochs == 2 and f.channels == (8, 8)
    assert not [k for k in vars(f) if k.endswith("_")]
    with pytest.raises(CheckpointError, match="not fitted"):
        f.transform_windows(np.zeros((1, 48000), np.float32))


def test_fit_transform_save_load(
    toy_songs: CCMCAudio, toy_rendered: RenderedSet, tmp_path: Path
) -> None:
    f = AudioFactorizer(**TINY, epochs=1, held_out_societies=["S3"])
    assert f.fit(toy_songs, toy_rendered, rendered_train=[0, 1, 2, 3]) is f
    assert f.functions_ == ["Dance", "Lullaby", "Work"] and f.regions_ == ["North", "South"]
    z = f.transform([toy_songs.wave(i) for i in range(3)])
    assert z.shape == (3, 9)
    c, s, a = f.split(z)
    assert (c.shape[1], s.shape[1], a.shape[1]) == (4, 3, 2)
    f.save(tmp_path / "m.pt")
    g = AudioFactorizer.load(tmp_path / "m.pt")
    assert g.get_params() == f.get_params()
    np.testing.assert_allclose(
        g.transform([toy_songs.wave(i) for i in range(3)]), z, rtol=1e-5, atol=1e-5
    )


def test_resume_continues_from_the_checkpoint(toy_songs: CCMCAudio, tmp_path: Path) -> None:
    torch.set_num_threads(1)  # deterministic kernels for the comparison
    straight = AudioFactorizer(**TINY, epochs=2).fit(toy_songs, checkpoint_dir=tmp_path / "a")
    first = AudioFactorizer(**TINY, epochs=1).fit(toy_songs, checkpoint_dir=tmp_path / "b")
    assert len(first.history_) == 1
    # Same settings but epochs: the checkpoint is refused rather than silently mixed.
    with pytest.raises(CheckpointError, match="other settings"):
        AudioFactorizer(**TINY, epochs=2).fit(toy_songs, checkpoint_dir=tmp_path / "b", resume=True)

    class Interrupt(Exception):
        pass

    def stop_after_first(record: dict[str, float]) -> None:
        if record["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        AudioFactorizer(**TINY, epochs=2).fit(
            toy_songs, checkpoint_dir=tmp_path / "c", log=stop_after_first
        )
    resumed = AudioFactorizer(**TINY, epochs=2).fit(
        toy_songs, checkpoint_dir=tmp_path / "c", resume=True
    )
    assert [h["epoch"] for h in resumed.history_] == [1, 2]
    w = [toy_songs.wave(0)]
    np.testing.assert_allclose(resumed.transform(w), straight.transform(w), rtol=1e-4, atol=1e-4)


def test_load_refuses_a_foreign_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.pt"
    torch.save({"hello": 1}, bad)
    with pytest.raises(CheckpointError, match="not a soundbridge audio model"):
        AudioFactorizer.load(bad)
    with pytest.raises(CheckpointError, match="no such model file"):
        AudioFactorizer.load(tmp_path / "none.pt")


def test_summary_statistics_feed_the_global_factors_and_old_configs_load() -> None:
    from audio.model import FactorVAE, ModelConfig

    cfg = ModelConfig(n_mels=8, frames=32, channels=(8, 8), n_societies=3)
    assert cfg.summary_stats and ModelConfig.from_dict(cfg.to_dict()) == cfg
    old = cfg.to_dict()
    del old["summary_stats"]  # a model saved before the option existed
    assert not ModelConfig.from_dict(old).summary_stats
    torch.manual_seed(0)
    model = FactorVAE(cfg).eval()
    assert model.use_stats
    x = torch.randn(2, 8, 32)
    # A change of loudness in one band moves z_s and z_a through the statistics path.
    y = x.clone()
    y[:, 3] += 2.0
    mu_x, _ = model.encode(x)
    mu_y, _ = model.encode(y)
    assert mu_x.shape == (2, cfg.dim_c + cfg.dim_s + cfg.dim_a)
    assert not torch.allclose(mu_x[:, cfg.dim_c :], mu_y[:, cfg.dim_c :])
