"""The estimator: :class:`AudioFactorizer` trains a :class:`~audio.model.FactorVAE` and turns
recordings into factors ``(z_c, z_s, z_a)``.

Training data per step: a batch of CCMC songs, each seen as two augmented 3 s views
(:class:`~audio.augment.Augmenter`), and a batch of rendered tunes, each in two different
instruments. InfoNCE pulls the two views' ``z_c`` together (both kinds of pairs in one softmax,
so songs and tunes are each other's negatives). Supervised heads only see the songs of training
societies (``held_out_societies`` is stored with the model so that evaluation knows).

With ``pretrained`` (default ``"MSD_musicnn"``) every window also reads its track's frozen
musicnn embedding (:mod:`audio.musicnn`): a tagger trained on a million songs knows more about
what makes music danceable, calm or sad than ~800 labelled field recordings can teach. Pass the
embeddings to :meth:`~AudioFactorizer.fit` / :meth:`~AudioFactorizer.transform` when they are
cached; otherwise they are computed (about 0.05 s per 3 s of audio on this CPU).

Checkpoints: ``checkpoint_dir/last.pt`` after every epoch (model, optimiser, epoch, RNG states);
``fit(..., resume=True)`` continues from it, and a resumed run ends in the same weights as an
uninterrupted one with the same seed (up to floating-point non-determinism of threaded kernels).

Examples:
    >>> f = AudioFactorizer(epochs=1)
    >>> f.epochs, hasattr(f, "model_")
    (1, False)
"""

from __future__ import annotations

import inspect
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from audio.augment import Augmenter, add_noise, equalize, gain
from audio.dataset import CCMCAudio
from audio.errors import BackboneError, CheckpointError
from audio.frontend import FrontendConfig, log_mel_batch, track_windows
from audio.losses import (
    between_group_share,
    info_nce,
    kl_normal,
    masked_cross_entropy,
    total_correlation,
)
from audio.model import FactorVAE, ModelConfig
from audio.musicnn import MusicnnEmbedder, cached_embeddings
from audio.render import RenderedSet
from loaders.files import replacing

__all__ = ["AudioFactorizer", "TrainingLog"]

_FORMAT = "soundbridge-audio-factorizer/1"

TrainingLog = Callable[[dict[str, float]], None]


class AudioFactorizer:
    """Disentangled audio factors: fit on CCMC songs and rendered tunes, transform any recording.

    Args:
        dim_c: size of ``z_c``. dim_s: size of ``z_s``. dim_a: size of ``z_a``.
        channels: CNN channels (ignored with a backbone).
        epochs: passes over the CCMC songs.
        batch_size: songs per step (and tunes per step).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        beta: weight of the KL term.
        tc_weight: weight of the between-factor total correlation.
        adv_weight: weight of the region adversary on ``z_a`` (through gradient reversal).
        invariance_weight: weight of the share of ``z_a``'s variance explained by region
            (:func:`~audio.losses.between_group_share`), on the training societies' songs.
        nce_weight: weight of InfoNCE on ``z_c``.
        function_weight: weight of the function head on ``z_a``.
        region_weight: weight of the region head on ``z_s``.
        society_weight: weight of the society head on ``z_s``.
        instrument_weight: weight of the instrument head on ``z_s`` (rendered tunes).
        temperature: InfoNCE temperature.
        held_out_societies: societies whose labels no supervised loss may see.
        backbone: folder of a ``transformers`` audio model (HuBERT-style) replacing the CNN.
        pretrained: the frozen tagger whose per-track embedding the style and affect factors
            read (one of :data:`audio.musicnn.MUSICNN_MODELS`), or ``None`` for audio alone.
        n_variants: whole-song tempo/pitch variants drawn once per song (views pick one).
        seed: seeds Python, NumPy and torch.
        frontend: the log-mel settings.
    """

    def __init__(
        self,
        *,
        dim_c: int = 16,
        dim_s: int = 16,
        dim_a: int = 16,
        channels: Sequence[int] = (128, 128, 192, 256),
        epochs: int = 20,
        batch_size: int = 32,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        beta: float = 0.02,
        tc_weight: float = 0.1,
        adv_weight: float = 3.0,
        invariance_weight: float = 3.0,
        nce_weight: float = 1.0,
        function_weight: float = 2.0,
        region_weight: float = 1.0,
        society_weight: float = 0.1,
        instrument_weight: float = 0.5,
        temperature: float = 0.1,
        held_out_societies: Sequence[str] = (),
        backbone: str | os.PathLike[str] | None = None,
        pretrained: str | None = "MSD_musicnn",
        n_variants: int = 3,
        seed: int = 0,
        frontend: FrontendConfig | None = None,
    ) -> None:
        self.dim_c = dim_c
        self.dim_s = dim_s
        self.dim_a = dim_a
        self.channels = channels
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.beta = beta
        self.tc_weight = tc_weight
        self.adv_weight = adv_weight
        self.invariance_weight = invariance_weight
        self.nce_weight = nce_weight
        self.function_weight = function_weight
        self.region_weight = region_weight
        self.society_weight = society_weight
        self.instrument_weight = instrument_weight
        self.temperature = temperature
        self.held_out_societies = held_out_societies
        self.backbone = backbone
        self.pretrained = pretrained
        self.n_variants = n_variants
        self.seed = seed
        self.frontend = frontend

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor's arguments as given (JSON-friendly)."""
        params = {k: getattr(self, k) for k in _PARAMS}
        params["channels"] = list(params["channels"])
        params["held_out_societies"] = list(params["held_out_societies"])
        params["backbone"] = None if self.backbone is None else os.fspath(self.backbone)
        params["frontend"] = None if self.frontend is None else asdict(self.frontend)
        return params

    @property
    def frontend_(self) -> FrontendConfig:
        """The frontend settings in use."""
        return self.frontend if self.frontend is not None else FrontendConfig()

    @property
    def dims_(self) -> list[int]:
        """``[dim_c, dim_s, dim_a]``."""
        return [self.dim_c, self.dim_s, self.dim_a]

    # ------------------------------------------------------------------ fitting
    def _tagger(self) -> MusicnnEmbedder:
        """The pretrained tagger (loaded once). Raises BackboneError without ``pretrained``."""
        if self.pretrained is None:
            raise BackboneError("this AudioFactorizer was made with pretrained=None")
        cached = getattr(self, "_embedder", None)
        if cached is None or cached.model != self.pretrained:
            cached = self._embedder = MusicnnEmbedder(self.pretrained)
        return cached

    def embed(
        self,
        waves: Sequence[np.ndarray],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> np.ndarray | None:
        """The frozen context vectors of tracks (``None`` without ``pretrained``).

        Args:
            waves: recordings at the frontend's rate, each ``(samples_i,)``.
            cache_dir: keep the result in this folder, keyed by the exact samples
                (:func:`audio.musicnn.cached_embeddings`).
            progress: show a tqdm bar.

        Returns:
            Shapes: ``(n_tracks, context_dim)``.
        """
        if self.pretrained is None:
            return None
        sr = self.frontend_.sample_rate
        if cache_dir is not None:
            return cached_embeddings(self._tagger(), waves, sr, cache_dir, progress=progress)
        return self._tagger().embed(waves, sr, progress=progress)

    def embed_grid(
        self,
        waves: np.ndarray,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> np.ndarray | None:
        """:meth:`embed` for a grid of recordings, e.g. tunes × instruments.

        Shapes: ``waves: (n_tunes, n_instruments, samples)`` → ``(n_tunes, n_instruments,
        context_dim)`` (``None`` without ``pretrained``).
        """
        n_t, n_i, n_s = waves.shape
        flat = self.embed(
            list(waves.reshape(n_t * n_i, n_s)), cache_dir=cache_dir, progress=progress
        )
        return None if flat is None else flat.reshape(n_t, n_i, -1)

    def _context_dim(self) -> int:
        return 0 if self.pretrained is None else MusicnnEmbedder.dim

    def _build(
        self, n_functions: int, n_regions: int, n_societies: int, n_instruments: int
    ) -> None:
        fe = self.frontend_
        cfg = ModelConfig(
            n_mels=fe.n_mels,
            frames=fe.window_frames,
            channels=tuple(self.channels),
            dim_c=self.dim_c,
            dim_s=self.dim_s,
            dim_a=self.dim_a,
            n_functions=n_functions,
            n_regions=n_regions,
            n_societies=n_societies,
            n_instruments=max(1, n_instruments),
            context_dim=self._context_dim(),
        )
        trunk = None
        if self.backbone is not None:
            from audio.backbone import BackboneTrunk

            trunk = BackboneTrunk(self.backbone)
        self.model_config_ = cfg
        self.model_ = FactorVAE(cfg, trunk)

    def _inputs(self, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(trunk input, normalised log-mel target). Shapes: ``waves: (batch, samples)``."""
        mel = (log_mel_batch(waves, self.frontend_) - self.mel_mean_[:, None]) / self.mel_std_[
            :, None
        ]
        trunk_in = waves if self.backbone is not None else mel
        return trunk_in, mel

    def fit(
        self,
        ccmc: CCMCAudio,
        rendered: RenderedSet | None = None,
        *,
        rendered_train: Sequence[int] | None = None,
        context: np.ndarray | None = None,
        rendered_context: np.ndarray | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        progress: bool = False,
        log: TrainingLog | None = None,
    ) -> AudioFactorizer:
        """Train on the CCMC songs (and, when given, the rendered tunes ``rendered_train``).

        Args:
            ccmc: the decoded songs.
            rendered: tunes rendered in several instruments, for the content pairs.
            rendered_train: indices of the tunes to train on (default: all); the rest are the
                held-out tunes of the retrieval test.
            context: the songs' pretrained embeddings (:meth:`embed`), when cached; computed
                otherwise. Shapes: ``(n_songs, context_dim)``.
            rendered_context: the same for every rendered tune and instrument.
                Shapes: ``(n_tunes, n_instruments, context_dim)``.
            checkpoint_dir: where ``last.pt`` is written after every epoch.
            resume: continue from ``checkpoint_dir/last.pt`` when it exists.
            progress: show a tqdm bar.
            log: called with each epoch's mean losses.

        Returns:
            self.
        """
        _seed_everything(self.seed)
        songs = ccmc.songs
        held = set(map(str, self.held_out_societies))
        train_soc = ~songs["society_id"].astype(str).isin(held).to_numpy()
        self.functions_ = sorted(songs["function"].dropna().astype(str).unique())
        self.regions_ = sorted(songs["hraf_region"].astype(str).unique())
        self.societies_ = sorted(songs["society_id"].astype(str).unique())
        self.instruments_ = list(rendered.instruments) if rendered is not None else []
        fn = songs["function"].astype("string")
        y_func = np.array(
            [
                self.functions_.index(f) if (not pd_isna(f) and ok) else -1
                for f, ok in zip(fn, train_soc, strict=True)
            ]
        )
        y_region = np.where(
            train_soc, [self.regions_.index(str(r)) for r in songs["hraf_region"]], -1
        )
        y_soc = np.where(
            train_soc, [self.societies_.index(str(s)) for s in songs["society_id"]], -1
        )
        self._build(
            len(self.functions_), len(self.regions_), len(self.societies_), len(self.instruments_)
        )
        fe = self.frontend_
        self._fit_normaliser(ccmc)
        ctx, rctx = self._fit_context(ccmc, rendered, context, rendered_context, progress)

        tunes = np.arange(rendered.waves.shape[0]) if rendered is not None else np.zeros(0, int)
        if rendered is not None and rendered_train is not None:
            tunes = np.asarray(rendered_train, dtype=int)
        n_data = len(ccmc.track_ids) + (len(tunes) * len(self.instruments_))
        full = Augmenter(sample_rate=fe.sample_rate, length=fe.window_samples)
        # The phase vocoder is the costly part: draw tempo/pitch variants of each whole song once
        # (float16 to halve the memory), then crop, EQ, gain and noise per view.
        augment = Augmenter(
            sample_rate=fe.sample_rate, length=fe.window_samples, max_stretch=1.0, max_semitones=0.0
        )
        vrng = np.random.default_rng(self.seed + 1)
        threads = torch.get_num_threads()
        # Many small FFTs: one thread avoids OpenMP spin-waits on a busy shared CPU.
        torch.set_num_threads(1)
        try:
            variants = [
                [ccmc.wave(i).astype(np.float16)]
                + [
                    full.variant(ccmc.wave(i), vrng).astype(np.float16)
                    for _ in range(self.n_variants)
                ]
                for i in range(len(ccmc.track_ids))
            ]
        finally:
            torch.set_num_threads(threads)
        optimiser = torch.optim.AdamW(
            self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        steps_per_epoch = math.ceil(len(ccmc.track_ids) / self.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser,
            max_lr=self.lr,
            total_steps=max(1, self.epochs * steps_per_epoch),
            pct_start=0.15,
        )
        rng = np.random.default_rng(self.seed)
        start_epoch = 0
        self.history_: list[dict[str, float]] = []
        ckpt = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
        if resume and ckpt is not None and ckpt.is_file():
            state = _torch_load(ckpt)
            if state.get("params") != self.get_params():
                raise CheckpointError(
                    f"{ckpt}: made with other settings; train without --resume, or with the "
                    "same options, or delete the checkpoint"
                )
            self.model_.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            rng = state["numpy_rng"]
            torch.set_rng_state(state["torch_rng"])
            start_epoch = int(state["epoch"])
            self.history_ = list(state["history"])
        epoch_seconds: list[float] = []
        for epoch in range(start_epoch, self.epochs):
            t0 = time.perf_counter()
            self.model_.train()
            order = rng.permutation(len(ccmc.track_ids))
            sums: dict[str, float] = {}
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(
                    total=steps_per_epoch, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False
                )
            for step in range(steps_per_epoch):
                batch = order[step * self.batch_size : (step + 1) * self.batch_size]
                p = (epoch * steps_per_epoch + step) / max(1, self.epochs * steps_per_epoch)
                adv_scale = 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0  # DANN's ramp
                views1 = [
                    augment(variants[i][rng.integers(len(variants[i]))].astype(np.float32), rng)
                    for i in batch
                ]
                views2 = [
                    augment(variants[i][rng.integers(len(variants[i]))].astype(np.float32), rng)
                    for i in batch
                ]
                n_song = len(batch)
                waves = views1 + views2
                n_tune = 0
                if rendered is not None and len(tunes) > 1:
                    pick = rng.choice(tunes, size=min(self.batch_size, len(tunes)), replace=False)
                    n_tune = len(pick)
                    inst_a = rng.integers(0, len(self.instruments_), size=n_tune)
                    inst_b = (inst_a + rng.integers(1, len(self.instruments_), size=n_tune)) % len(
                        self.instruments_
                    )
                    waves += [
                        _light(rendered.waves[t, a], fe, rng)
                        for t, a in zip(pick, inst_a, strict=True)
                    ]
                    waves += [
                        _light(rendered.waves[t, b], fe, rng)
                        for t, b in zip(pick, inst_b, strict=True)
                    ]
                x = torch.from_numpy(np.stack(waves))
                with torch.no_grad():
                    trunk_in, mel = self._inputs(x)
                batch_ctx = None
                if ctx is not None:
                    parts = [ctx[batch], ctx[batch]]
                    if n_tune and rctx is not None:
                        parts += [rctx[pick, inst_a], rctx[pick, inst_b]]
                    batch_ctx = torch.from_numpy(np.concatenate(parts))
                out = self.model_(trunk_in, adversary_scale=adv_scale, context=batch_ctx)
                target = F.avg_pool1d(
                    mel[..., : self.model_.dec_frames * self.model_config_.time_pool],
                    self.model_config_.time_pool,
                )
                losses: dict[str, torch.Tensor] = {}
                losses["recon"] = F.mse_loss(out.recon, target)
                losses["kl"] = self.beta * sum(
                    kl_normal(m, lv)
                    for m, lv in zip(
                        torch.split(out.mu, self.dims_, 1),
                        torch.split(out.logvar, self.dims_, 1),
                        strict=True,
                    )
                )
                losses["tc"] = self.tc_weight * total_correlation(
                    out.z, out.mu, out.logvar, self.dims_, n_data
                )
                mu_c = out.mu[:, : self.dim_c]
                first = torch.cat([mu_c[:n_song], mu_c[2 * n_song : 2 * n_song + n_tune]])
                second = torch.cat([mu_c[n_song : 2 * n_song], mu_c[2 * n_song + n_tune :]])
                losses["nce"] = self.nce_weight * info_nce(first, second, self.temperature)
                yf = torch.from_numpy(np.concatenate([y_func[batch], y_func[batch]]))
                yr = torch.from_numpy(np.concatenate([y_region[batch], y_region[batch]]))
                ys = torch.from_numpy(np.concatenate([y_soc[batch], y_soc[batch]]))
                s = slice(0, 2 * n_song)
                losses["function"] = self.function_weight * masked_cross_entropy(
                    out.function_logits[s], yf
                )
                losses["adversary"] = self.adv_weight * masked_cross_entropy(
                    out.adversary_logits[s], yr
                )
                if self.invariance_weight:
                    z_a = out.mu[s, self.dim_c + self.dim_s :]
                    losses["invariance"] = self.invariance_weight * between_group_share(z_a, yr)
                losses["region"] = self.region_weight * masked_cross_entropy(
                    out.region_logits[s], yr
                )
                losses["society"] = self.society_weight * masked_cross_entropy(
                    out.society_logits[s], ys
                )
                if n_tune:
                    yi = torch.from_numpy(np.concatenate([inst_a, inst_b]))
                    losses["instrument"] = self.instrument_weight * F.cross_entropy(
                        out.instrument_logits[2 * n_song :], yi
                    )
                total = sum(losses.values())
                optimiser.zero_grad(set_to_none=True)
                total.backward()  # type: ignore[union-attr]
                torch.nn.utils.clip_grad_norm_(self.model_.parameters(), 5.0)
                optimiser.step()
                schedule.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                if bar is not None:
                    bar.set_postfix(loss=f"{float(total.detach()):.3f}")  # type: ignore[union-attr]
                    bar.update()
            if bar is not None:
                bar.close()
            record = {k: v / steps_per_epoch for k, v in sums.items()}
            record["epoch"] = epoch + 1
            record["seconds"] = time.perf_counter() - t0
            epoch_seconds.append(record["seconds"])
            self.history_.append(record)
            if ckpt is not None:
                with replacing(ckpt) as tmp:
                    torch.save(
                        {
                            "params": self.get_params(),
                            "model": self.model_.state_dict(),
                            "optimiser": optimiser.state_dict(),
                            "schedule": schedule.state_dict(),
                            "numpy_rng": rng,
                            "torch_rng": torch.get_rng_state(),
                            "epoch": epoch + 1,
                            "history": self.history_,
                        },
                        tmp,
                    )
            if log is not None:
                log(record)
        self.model_.eval()
        return self

    def _fit_context(
        self,
        ccmc: CCMCAudio,
        rendered: RenderedSet | None,
        context: np.ndarray | None,
        rendered_context: np.ndarray | None,
        progress: bool,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The songs' and rendered tunes' context vectors, checked or computed."""
        if self.pretrained is None:
            return None, None
        dim = self._context_dim()
        if context is None:
            context = self.embed(ccmc.track_waves(), progress=progress)
        # a context given for other songs fails here, before the rendered set is embedded
        ctx = np.asarray(context, dtype=np.float32)
        if ctx.shape != (len(ccmc.track_ids), dim):
            raise ValueError(
                f"context has shape {ctx.shape}; expected {(len(ccmc.track_ids), dim)} "
                "(songs, context_dim): embed the same songs with the same pretrained model"
            )
        rctx = None
        if rendered is not None:
            if rendered_context is None:
                rendered_context = self.embed_grid(rendered.waves, progress=progress)
            rctx = np.asarray(rendered_context, dtype=np.float32)
            if rctx.shape != (*rendered.waves.shape[:2], dim):
                raise ValueError(
                    f"rendered_context has shape {rctx.shape}; expected "
                    f"{(*rendered.waves.shape[:2], dim)} (tunes, instruments, context_dim)"
                )
        return ctx, rctx

    def _fit_normaliser(self, ccmc: CCMCAudio) -> None:
        """Per-band mean and std of the log-mel over (up to) 200 songs."""
        fe = self.frontend_
        idx = np.linspace(0, len(ccmc.track_ids) - 1, min(200, len(ccmc.track_ids))).astype(int)
        with torch.no_grad():
            mels = [log_mel_batch(torch.from_numpy(ccmc.wave(i))[None], fe)[0] for i in idx]
            cat = torch.cat(mels, dim=1)
        self.mel_mean_ = cat.mean(dim=1)
        self.mel_std_ = cat.std(dim=1).clamp_min(1e-3)

    # ------------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise CheckpointError("this AudioFactorizer is not fitted; call fit() or load() first")

    @torch.no_grad()
    def transform_windows(
        self, windows: np.ndarray, batch_size: int = 64, *, context: np.ndarray | None = None
    ) -> np.ndarray:
        """Factor means of fixed windows, each window taken as a track of its own.

        Shapes: ``windows: (n, window_samples)``, ``context: (n, context_dim)`` (computed
        from the windows when ``None``) → ``(n, dim_c + dim_s + dim_a)``.
        """
        self._check_fitted()
        if context is None and self.pretrained is not None:
            context = self.embed(list(windows))
        return self._encode_windows(windows, context, batch_size)

    def _encode_windows(
        self, windows: np.ndarray, context: np.ndarray | None, batch_size: int
    ) -> np.ndarray:
        self.model_.eval()
        out = []
        for s in range(0, len(windows), batch_size):
            x = torch.from_numpy(
                np.ascontiguousarray(windows[s : s + batch_size], dtype=np.float32)
            )
            ctx = None
            if context is not None:
                ctx = torch.from_numpy(
                    np.ascontiguousarray(context[s : s + batch_size], dtype=np.float32)
                )
            trunk_in, _ = self._inputs(x)
            out.append(self.model_.encode(trunk_in, ctx)[0].numpy())
        return np.concatenate(out) if out else np.zeros((0, sum(self.dims_)), np.float32)

    @torch.no_grad()
    def transform(
        self,
        waves: Sequence[np.ndarray],
        batch_size: int = 64,
        *,
        context: np.ndarray | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """Track factors: the mean of the factors of each track's 3 s windows.

        Shapes: ``waves``: a sequence of ``(samples_i,)``; ``context: (n_tracks, context_dim)``
        (the tracks' pretrained embeddings; computed when ``None``)
        → ``(n_tracks, dim_c + dim_s + dim_a)``.
        """
        self._check_fitted()
        fe = self.frontend_
        if context is None and self.pretrained is not None:
            context = self.embed(waves, progress=progress)
        pieces = [track_windows(w, fe) for w in waves]
        owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(pieces)])
        window_ctx = None if context is None else np.asarray(context, np.float32)[owner]
        z = self._encode_windows(np.concatenate(pieces), window_ctx, batch_size)
        return np.stack([z[owner == i].mean(axis=0) for i in range(len(pieces))])

    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z_c, z_s, z_a) of concatenated factors. Shapes: ``(n, sum(dims))`` → three arrays."""
        c, s = self.dim_c, self.dim_c + self.dim_s
        return z[:, :c], z[:, c:s], z[:, s:]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model (parameters, learned state, class lists) to ``path``."""
        self._check_fitted()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "format": _FORMAT,
                "params": self.get_params(),
                "model_config": self.model_config_.to_dict(),
                "model": self.model_.state_dict(),
                "mel_mean": self.mel_mean_,
                "mel_std": self.mel_std_,
                "functions": self.functions_,
                "regions": self.regions_,
                "societies": self.societies_,
                "instruments": self.instruments_,
                "history": self.history_,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AudioFactorizer:
        """Read a model written by :meth:`save`.

        Raises:
            CheckpointError: when the file is missing or not a soundbridge audio model.
        """
        if not Path(path).is_file():
            raise CheckpointError(
                f"{path}: no such model file; train one with `soundbridge audio train`"
            )
        state = _torch_load(Path(path))
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise CheckpointError(f"{path}: not a soundbridge audio model (format {_FORMAT})")
        params = dict(state["params"])
        params.setdefault("pretrained", None)  # models saved before the option had none
        if params["frontend"] is not None:
            params["frontend"] = FrontendConfig(**params["frontend"])
        self = cls(**params)
        self.model_config_ = ModelConfig.from_dict(state["model_config"])
        trunk = None
        if self.backbone is not None:
            from audio.backbone import BackboneTrunk

            trunk = BackboneTrunk(self.backbone)
        self.model_ = FactorVAE(self.model_config_, trunk)
        self.model_.load_state_dict(state["model"])
        self.model_.eval()
        self.mel_mean_ = state["mel_mean"]
        self.mel_std_ = state["mel_std"]
        self.functions_ = list(state["functions"])
        self.regions_ = list(state["regions"])
        self.societies_ = list(state["societies"])
        self.instruments_ = list(state["instruments"])
        self.history_ = list(state["history"])
        return self


# The constructor's arguments, read from its signature as scikit-learn's get_params does.
_PARAMS = [p for p in inspect.signature(AudioFactorizer.__init__).parameters if p != "self"]


def _light(wave: np.ndarray, fe: FrontendConfig, rng: np.random.Generator) -> np.ndarray:
    """Cheap augmentation of a rendered tune (EQ, gain, noise): the instrument already differs."""
    centres = np.geomspace(100.0, 0.45 * fe.sample_rate, 6)
    x = equalize(wave, fe.sample_rate, centres, rng.uniform(-6.0, 6.0, 6))
    x = gain(x, float(rng.uniform(-6.0, 6.0)))
    return add_noise(x, float(rng.uniform(20.0, 50.0)), rng)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _torch_load(path: Path) -> Any:
    try:
        # The checkpoint holds a NumPy Generator and plain containers: our own file, not weights
        # from elsewhere, so the full unpickler is acceptable here.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a bad file
        raise CheckpointError(
            f"{path}: cannot read the checkpoint ({e}); delete it and train again"
        ) from e


def pd_isna(value: object) -> bool:
    """True for ``None``, ``pd.NA`` and NaN."""
    import pandas as pd

    return bool(pd.isna(value))
