"""--backbone: a tiny randomly initialised HuBERT saved to a temp folder (no hub downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audio.backbone import BackboneTrunk
from audio.dataset import CCMCAudio
from audio.errors import BackboneError
from audio.factorizer import AudioFactorizer


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import HubertConfig, HubertModel

    cfg = HubertConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-hubert")
    HubertModel(cfg).save_pretrained(folder)
    return folder


def test_trunk_shapes(tiny_hubert: Path) -> None:
    trunk = BackboneTrunk(tiny_hubert)
    temporal, pooled = trunk(torch.randn(2, 16000))
    assert temporal.shape == (2, 16 * 4) and pooled.shape == (2, 16 * 2)


def test_factorizer_with_a_backbone_fits_and_round_trips(
    tiny_hubert: Path, toy_songs: CCMCAudio, tmp_path: Path
) -> None:
    f = AudioFactorizer(
        dim_c=3, dim_s=2, dim_a=2, epochs=1, batch_size=6, n_variants=0, backbone=tiny_hubert
    )
    f.fit(toy_songs.take(np.arange(6)))
    z = f.transform([toy_songs.wave(0)])
    assert z.shape == (1, 7)
    f.save(tmp_path / "m.pt")
    np.testing.assert_allclose(
        AudioFactorizer.load(tmp_path / "m.pt").transform([toy_songs.wave(0)]), z, atol=1e-5
    )


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match="config.json"):
        BackboneTrunk(tmp_path)
