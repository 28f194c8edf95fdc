"""A pretrained music tagger as a frozen feature extractor: musicnn (Pons & Serra, 2019) in torch.

The factor model learns from ~800 labelled ten-second field recordings, too few to learn from
scratch what makes a song sound like a dance or a lullaby. ``musicnn`` is a musically motivated
CNN (timbral and temporal filters over a 96-band mel spectrogram) trained to tag the Million Song
Dataset (``MSD_musicnn``: rock, folk, dance, chill, sad, party, …) or MagnaTagATune
(``MTT_musicnn``). Its PyPI package (ISC licence) ships the trained TensorFlow checkpoints; this
module reads them without TensorFlow (:func:`read_tf_checkpoint`) into a torch port of the
architecture (:class:`Musicnn`) and turns recordings into one vector per track
(:class:`MusicnnEmbedder`). The port reproduces the original TensorFlow graph's outputs to 1e-4
(``tests/audio/test_musicnn.py`` holds reference outputs made with TensorFlow 2.15).

The package's Python code needs TensorFlow 1.x and NumPy < 1.17, so it is installed without its
dependencies (``pip install --no-deps musicnn==0.1.0``, done by ``make setup``) and never imported
beyond its empty ``__init__``: only its checkpoint files are read.

Examples:
    >>> import numpy as np, torch
    >>> mel = musicnn_log_mel(torch.zeros(1, 16_000))
    >>> tuple(mel.shape), float(mel.abs().max())
    ((1, 63, 96), 0.0)
    >>> slaney_mel_filterbank().shape
    torch.Size([96, 257])
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import struct
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audio.errors import BackboneError
from audio.frontend import resample
from loaders.files import replacing

__all__ = [
    "MUSICNN_MODELS",
    "Musicnn",
    "MusicnnEmbedder",
    "cached_embeddings",
    "musicnn_checkpoint",
    "musicnn_log_mel",
    "read_tf_checkpoint",
    "slaney_mel_filterbank",
]

#: The checkpoints the ``musicnn`` 0.1.0 wheel ships with this architecture.
MUSICNN_MODELS = ("MSD_musicnn", "MTT_musicnn")

SAMPLE_RATE = 16_000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames the models were trained on (3 s at 16 kHz, hop 256).
PATCH_FRAMES = 187

_INSTALL_HINT = "install it with `pip install --no-deps musicnn==0.1.0` (`make setup` does)"


# ---------------------------------------------------------------------------- checkpoint reading
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _table_block(buf: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one LevelDB-format table block (prefix-compressed keys)."""
    if buf[offset + size] != 0:
        raise BackboneError("compressed TensorFlow checkpoint index blocks are not supported")
    block = buf[offset : offset + size]
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    entries, key, i = [], b"", 0
    while i < end:
        shared, i = _varint(block, i)
        unshared, i = _varint(block, i)
        n_value, i = _varint(block, i)
        key = key[:shared] + block[i : i + unshared]
        i += unshared
        entries.append((key, block[i : i + n_value]))
        i += n_value
    return entries


def _proto_fields(msg: bytes) -> dict[int, list[int | bytes]]:
    """Top-level fields of a protobuf message (varints as ints, the rest as bytes)."""
    fields: dict[int, list[int | bytes]] = {}
    i = 0
    while i < len(msg):
        tag, i = _varint(msg, i)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(msg, i)
        elif wire == 2:
            n, i = _varint(msg, i)
            value, i = msg[i : i + n], i + n
        elif wire == 5:
            value, i = msg[i : i + 4], i + 4
        elif wire == 1:
            value, i = msg[i : i + 8], i + 8
        else:
            raise BackboneError(f"unexpected protobuf wire type {wire} in a checkpoint index")
        fields.setdefault(number, []).append(value)
    return fields


def read_tf_checkpoint(prefix: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The float32 variables of a TensorFlow (V2 format) checkpoint, without TensorFlow.

    A checkpoint is ``<prefix>.index`` (a LevelDB-format table: variable name → dtype, shape
    and byte range) and ``<prefix>.data-00000-of-00001`` (the raw little-endian tensors).
    Variables of other dtypes (optimiser step counters) are skipped.

    Args:
        prefix: the path before ``.index`` (for musicnn's folders it ends in ``/``).

    Returns:
        name → array, e.g. ``"conv2d/kernel"`` → ``(7, 38, 1, 204)``.

    Raises:
        BackboneError: when the files are missing or not a single-shard V2 checkpoint.
    """
    index_path = Path(f"{os.fspath(prefix)}.index")
    data_path = Path(f"{os.fspath(prefix)}.data-00000-of-00001")
    if not index_path.is_file() or not data_path.is_file():
        raise BackboneError(f"{prefix}: no TensorFlow checkpoint (.index and .data-00000-of-00001)")
    index = index_path.read_bytes()
    footer = index[-48:]
    if len(index) < 48 or struct.unpack("<Q", footer[-8:])[0] != 0xDB4775248B80FB57:
        raise BackboneError(f"{index_path}: not a TensorFlow checkpoint index")
    _, j = _varint(footer, 0)  # the metaindex handle (unused)
    _, j = _varint(footer, j)
    index_offset, j = _varint(footer, j)
    index_size, j = _varint(footer, j)
    data = data_path.read_bytes()
    out: dict[str, np.ndarray] = {}
    for _, handle in _table_block(index, index_offset, index_size):
        offset, k = _varint(handle, 0)
        size, _ = _varint(handle, k)
        for key, value in _table_block(index, offset, size):
            if not key:  # the bundle header
                continue
            entry = _proto_fields(value)
            if entry.get(1, [0])[0] != 1:  # DT_FLOAT
                continue
            shape: list[int] = []
            if 2 in entry:
                dims = _proto_fields(bytes(entry[2][0]))  # type: ignore[arg-type]
                shape = [int(_proto_fields(bytes(d)).get(1, [0])[0]) for d in dims.get(2, [])]  # type: ignore[arg-type]
            start, n = int(entry.get(4, [0])[0]), int(entry.get(5, [0])[0])  # type: ignore[arg-type]
            out[key.decode()] = np.frombuffer(data[start : start + n], "<f4").reshape(shape)
    return out


def musicnn_checkpoint(model: str = "MSD_musicnn") -> str:
    """The checkpoint prefix of ``model`` inside the installed ``musicnn`` package.

    Raises:
        BackboneError: when the package is not installed or has no such model.
    """
    if model not in MUSICNN_MODELS:
        raise BackboneError(f"unknown musicnn model {model!r}; choose one of {MUSICNN_MODELS}")
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            f"the musicnn package (pretrained weights) is not installed; {_INSTALL_HINT}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / model
    if not (folder / ".index").is_file():
        raise BackboneError(
            f"{folder}: the musicnn package has no {model} checkpoint; {_INSTALL_HINT}"
        )
    return f"{folder}{os.sep}"


# ---------------------------------------------------------------------------- front end
def _hz_to_slaney(hz: np.ndarray) -> np.ndarray:
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _slaney_to_hz(mel: np.ndarray) -> np.ndarray:
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


@lru_cache(maxsize=2)
def slaney_mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
) -> torch.Tensor:
    """Slaney-scale, area-normalised mel filters from 0 Hz to Nyquist: the filters musicnn was
    trained on (librosa's defaults). Shapes: ``(n_mels, n_fft // 2 + 1)``."""
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = _slaney_to_hz(
        np.linspace(
            _hz_to_slaney(np.array(0.0)), _hz_to_slaney(np.array(sample_rate / 2.0)), n_mels + 2
        )
    )
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    bank = np.clip(np.minimum(rising, falling), 0.0, None) * (2.0 / (upper - lower))
    return torch.from_numpy(bank.astype(np.float32))


def musicnn_log_mel(waves: torch.Tensor) -> torch.Tensor:
    """musicnn's input: ``log10(1 + 10000 · mel power)`` of 16 kHz audio.

    Shapes: ``waves: (batch, samples)`` → ``(batch, samples // 256 + 1, 96)`` (time first).
    """
    spec = torch.stft(
        waves,
        n_fft=N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT, dtype=waves.dtype, device=waves.device),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(slaney_mel_filterbank().to(waves.device, waves.dtype), power)
    # The models were trained on float16-rounded spectrograms.
    mel = mel.half().to(waves.dtype)
    return torch.log10(10_000.0 * mel + 1.0).transpose(1, 2)


# ---------------------------------------------------------------------------- the network
def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=1e-3)  # TensorFlow's default epsilon


class Musicnn(nn.Module):
    """The musicnn architecture (front end 7×(0.4, 0.7)·96 timbral and 128/64/32 temporal filters,
    three residual 1-D conv layers, global max and mean pooling, a 200-unit dense layer).

    Outputs of :meth:`forward` for ``x: (batch, frames, 96)`` (any ``frames ≥ 32``):
    ``logits (batch, 50)``, ``penultimate (batch, 200)``, ``mean_pool (batch, 753)``,
    ``max_pool (batch, 753)``.
    """

    def __init__(self, n_classes: int = 50) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1, eps=1e-3)
        self.timbral = nn.ModuleList([nn.Conv2d(1, 204, (7, 38)), nn.Conv2d(1, 204, (7, 67))])
        self.timbral_norm = nn.ModuleList([nn.BatchNorm2d(204, eps=1e-3) for _ in range(2)])
        self.temporal_sizes = (128, 64, 32)
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in self.temporal_sizes])
        self.temporal_norm = nn.ModuleList([nn.BatchNorm2d(51, eps=1e-3) for _ in range(3)])
        self.mid = nn.ModuleList(
            [nn.Conv1d(561, 64, 7), nn.Conv1d(64, 64, 7), nn.Conv1d(64, 64, 7)]
        )
        self.mid_norm = nn.ModuleList([_bn(64) for _ in range(3)])
        self.pool_norm = _bn(1506)
        self.dense = nn.Linear(1506, 200)
        self.dense_norm = _bn(200)
        self.out = nn.Linear(200, n_classes)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Shapes: ``x: (batch, frames, 96)`` → see the class docstring."""
        x = self.input_norm(x[:, None])  # (batch, 1, frames, 96)
        padded = F.pad(x, (0, 0, 3, 3))
        maps = [
            norm(F.relu(conv(padded))).amax(dim=3)
            for conv, norm in zip(self.timbral, self.timbral_norm, strict=True)
        ]
        for conv, norm, k in zip(
            self.temporal, self.temporal_norm, self.temporal_sizes, strict=True
        ):
            before = (k - 1) // 2  # TensorFlow's "same" padding puts the odd one after
            maps.append(norm(F.relu(conv(F.pad(x, (0, 0, before, k - 1 - before))))).amax(dim=3))
        front = torch.cat(maps, dim=1)  # (batch, 561, frames)
        h1 = self.mid_norm[0](F.relu(self.mid[0](F.pad(front, (3, 3)))))
        h2 = self.mid_norm[1](F.relu(self.mid[1](F.pad(h1, (3, 3))))) + h1
        h3 = self.mid_norm[2](F.relu(self.mid[2](F.pad(h2, (3, 3))))) + h2
        features = torch.cat([front, h1, h2, h3], dim=1)  # (batch, 753, frames)
        max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)
        # TensorFlow flattened (753, 2) = [max, mean] per channel: interleaved.
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_norm(F.relu(self.dense(self.pool_norm(pooled))))
        return self.out(penultimate), penultimate, mean_pool, max_pool

    @classmethod
    def from_checkpoint(cls, prefix: str | os.PathLike[str]) -> Musicnn:
        """The network with the variables of a musicnn TensorFlow checkpoint, in eval mode."""
        ck = read_tf_checkpoint(prefix)

        def t(name: str) -> torch.Tensor:
            if name not in ck:
                raise BackboneError(f"{prefix}: no variable {name}; not a musicnn checkpoint")
            return torch.from_numpy(ck[name].copy())

        model = cls(n_classes=int(ck.get("dense_1/bias", np.zeros(50)).shape[0]))
        norms = [model.input_norm, *model.timbral_norm, *model.temporal_norm, *model.mid_norm]
        norms += [model.pool_norm, model.dense_norm]
        for i, norm in enumerate(norms):
            name = "batch_normalization" + (f"_{i}" if i else "")
            norm.weight.data, norm.bias.data = t(f"{name}/gamma"), t(f"{name}/beta")
            norm.running_mean.data = t(f"{name}/moving_mean")
            norm.running_var.data = t(f"{name}/moving_variance")
        convs = [*model.timbral, *model.temporal]
        for i, conv in enumerate(convs):  # TF (kh, kw, in, out) → torch (out, in, kh, kw)
            name = "conv2d" + (f"_{i}" if i else "")
            conv.weight.data = t(f"{name}/kernel").permute(3, 2, 0, 1).contiguous()
            conv.bias.data = t(f"{name}/bias")
        for i, conv in enumerate(model.mid):  # (7, in, 1, out) → (out, in, 7)
            name = f"conv2d_{len(convs) + i}"
            conv.weight.data = t(f"{name}/kernel")[:, :, 0, :].permute(2, 1, 0).contiguous()
            conv.bias.data = t(f"{name}/bias")
        for linear, name in ((model.dense, "dense"), (model.out, "dense_1")):
            linear.weight.data = t(f"{name}/kernel").T.contiguous()
            linear.bias.data = t(f"{name}/bias")
        return model.eval()


class MusicnnEmbedder:
    """Recordings → one frozen musicnn vector per track.

    A track is cut into 3 s patches (the last one zero-padded when the track is shorter); the
    vector is the mean over patches of ``[mean_pool, max_pool, penultimate]`` (753 + 753 + 200 =
    1,706 values).

    Args:
        model: one of :data:`MUSICNN_MODELS`.
        checkpoint: a checkpoint prefix (default: the installed package's).
        batch_size: patches per forward pass.
    """

    dim = 753 + 753 + 200

    def __init__(
        self,
        model: str = "MSD_musicnn",
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        prefix = checkpoint if checkpoint is not None else musicnn_checkpoint(model)
        self.network = Musicnn.from_checkpoint(prefix)

    @torch.no_grad()
    def embed(
        self,
        waves: Sequence[np.ndarray],
        sample_rate: int = SAMPLE_RATE,
        *,
        progress: bool = False,
    ) -> np.ndarray:
        """Shapes: ``waves``: a sequence of ``(samples_i,)`` → ``(n_tracks, 1706)`` float32."""
        patches: list[torch.Tensor] = []
        owner: list[int] = []
        for i, wave in enumerate(waves):
            w = np.asarray(wave, dtype=np.float32)
            if sample_rate != SAMPLE_RATE:
                w = resample(w, sample_rate, SAMPLE_RATE)
            mel = musicnn_log_mel(torch.from_numpy(np.ascontiguousarray(w))[None])[0]
            n = max(1, mel.shape[0] // PATCH_FRAMES)
            for p in range(n):
                piece = mel[p * PATCH_FRAMES : (p + 1) * PATCH_FRAMES]
                if piece.shape[0] < PATCH_FRAMES:
                    piece = F.pad(piece, (0, 0, 0, PATCH_FRAMES - piece.shape[0]))
                patches.append(piece)
                owner.append(i)
        out = np.zeros((len(waves), self.dim), np.float32)
        counts = np.zeros(len(waves))
        steps = range(0, len(patches), self.batch_size)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(patches), desc="musicnn", unit="patch", leave=False)
        for s in steps:
            _, pen, mean, mx = self.network(torch.stack(patches[s : s + self.batch_size]))
            feats = torch.cat([mean, mx, pen], dim=1).numpy()
            idx = np.asarray(owner[s : s + self.batch_size])
            np.add.at(out, idx, feats)
            np.add.at(counts, idx, 1.0)
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return (out / np.maximum(counts, 1.0)[:, None]).astype(np.float32)


def cached_embeddings(
    embedder: MusicnnEmbedder,
    waves: Sequence[np.ndarray],
    sample_rate: int,
    cache_dir: str | os.PathLike[str],
    *,
    progress: bool = False,
) -> np.ndarray:
    """:meth:`MusicnnEmbedder.embed`, cached on disk by the model and the exact samples.

    The file is ``cache_dir/musicnn-<model>-<digest>.npy``; the digest covers the sample rate
    and every wave's bytes, so other audio (or a changed decoder) never hits a stale entry.
    """
    digest = hashlib.blake2b(f"{embedder.model}/{sample_rate}/{len(waves)}".encode(), digest_size=8)
    for w in waves:
        digest.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
    path = Path(cache_dir) / f"musicnn-{embedder.model}-{digest.hexdigest()}.npy"
    if path.is_file():
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(waves), embedder.dim):
            return cached
    out = embedder.embed(waves, sample_rate, progress=progress)
    with replacing(path) as tmp:
        np.save(tmp, out)
    return out
