"""A pretrained ``transformers`` audio model (HuBERT/MERT/wav2vec2-style) as the encoder trunk.

``--backbone PATH`` names a local folder written by ``save_pretrained`` (no hub downloads): the
model is loaded with :meth:`transformers.AutoModel.from_pretrained` and fed the raw 16 kHz
waveform; its last hidden states give the temporal features (``z_c``) and the pooled ones
(``z_s``, ``z_a``) exactly as the CNN trunk does. The backbone is fine-tuned with the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from audio.errors import BackboneError

__all__ = ["BackboneTrunk"]


class BackboneTrunk(nn.Module):
    """Waveform → (temporal, global) features from a ``transformers`` audio model.

    Args:
        path: a folder holding ``config.json`` and the weights (``save_pretrained``'s output).

    Raises:
        BackboneError: when the folder is missing or ``transformers`` cannot load it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise BackboneError(
                f"{folder}: no config.json; give the folder a transformers model was saved to "
                "with save_pretrained (hub names are not fetched: download it beforehand)"
            )
        try:
            from transformers import AutoModel

            self.model = AutoModel.from_pretrained(os.fspath(folder), local_files_only=True)
        except (OSError, ValueError, KeyError) as e:
            raise BackboneError(f"{folder}: transformers cannot load it ({e})") from e
        hidden = int(self.model.config.hidden_size)
        self.temporal_size = hidden * 4
        self.global_size = hidden * 2
        self.temporal_pool = nn.AdaptiveAvgPool1d(4)

    def forward(self, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shapes: ``waves: (batch, samples)`` → ``(batch, 4 * hidden), (batch, 2 * hidden)``."""
        x = (waves - waves.mean(dim=1, keepdim=True)) / (waves.std(dim=1, keepdim=True) + 1e-5)
        h = self.model(input_values=x).last_hidden_state.transpose(1, 2)  # (batch, hidden, T)
        temporal = self.temporal_pool(h).flatten(1)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return temporal, pooled
