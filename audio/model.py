"""The disentangling VAE: log-mel window → (z_c, z_s, z_a) → log-mel, with its heads.

* **Encoder**: a small CNN trunk over the normalised log-mel; two poolings of its feature map:
  a *temporal* one (time kept in 4 segments, so melody order survives) feeding ``z_c``, and a
  *global* one (mean and max over time, plus the input's per-band mean and std over time)
  feeding ``z_s`` and ``z_a``, together with an optional frozen *context* vector of the whole
  track (a pretrained tagger's embedding, :mod:`audio.musicnn`). Each factor is a diagonal
  Gaussian (``mu``, ``logvar``). With a ``--backbone``, a ``transformers`` audio model replaces
  the CNN (:mod:`audio.backbone`).
* **Decoder**: an MLP from the concatenated factors to the log-mel pooled 4× in time.
* **Heads**: function on ``z_a`` (labelled songs only); culture (region) adversary on ``z_a``
  behind a gradient reversal layer; region and society on ``z_s``; instrument on ``z_s`` for the
  rendered scores.

The estimator that trains it is :class:`audio.factorizer.AudioFactorizer`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from audio.losses import grad_reverse

__all__ = ["ModelConfig", "Factors", "FactorVAE"]


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the network.

    Args:
        n_mels: mel bands of the input.
        frames: frames of one input window.
        channels: output channels of the 1-D conv blocks (each halves the frames).
        hidden: width of the shared layer before the factor heads.
        dim_c: size of ``z_c`` (content).
        dim_s: size of ``z_s`` (style / culture).
        dim_a: size of ``z_a`` (affect / function).
        n_functions: classes of the function head.
        n_regions: classes of the region head and adversary.
        n_societies: classes of the society head.
        n_instruments: classes of the instrument head (rendered scores).
        time_pool: factor by which the decoder's target is pooled in time.
        dropout: dropout before the classifier heads.
        summary_stats: also feed the window's per-band log-mel mean and standard deviation over
            time (standardised by a batch norm) into the layer that ``z_s`` and ``z_a`` read
            (CNN trunk only: a backbone's input is the waveform).
        context_dim: size of the frozen per-track context vector fed (batch-normed, with
            ``context_dropout``) into that same layer; 0 for none.
        context_dropout: dropout on the context vector (it is large next to the labelled data).
    """

    n_mels: int = 80
    frames: int = 151
    channels: tuple[int, ...] = (128, 128, 192, 256)
    hidden: int = 256
    dim_c: int = 16
    dim_s: int = 16
    dim_a: int = 16
    n_functions: int = 10
    n_regions: int = 38
    n_societies: int = 410
    n_instruments: int = 6
    time_pool: int = 4
    dropout: float = 0.2
    summary_stats: bool = True
    context_dim: int = 0
    context_dropout: float = 0.3

    @property
    def dims(self) -> list[int]:
        """The factor sizes in order (c, s, a)."""
        return [self.dim_c, self.dim_s, self.dim_a]

    def to_dict(self) -> dict[str, object]:
        """Plain dict for checkpoints."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ModelConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d.setdefault("summary_stats", False)  # models saved before the option existed
        d["channels"] = tuple(d["channels"])  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


@dataclass
class Factors:
    """One forward pass. Every tensor is ``(batch, dim_*)`` unless stated.

    Attributes:
        mu: posterior means, concatenated (c, s, a). Shapes: ``(batch, dim_c + dim_s + dim_a)``.
        logvar: posterior log-variances, same layout.
        z: reparameterised samples (the means in eval mode), same layout.
        recon: decoded log-mel. Shapes: ``(batch, n_mels, frames // time_pool)``.
        function_logits: Shapes: ``(batch, n_functions)``.
        adversary_logits: region logits from ``z_a`` through gradient reversal.
            Shapes: ``(batch, n_regions)``.
        region_logits: from ``z_s``. Shapes: ``(batch, n_regions)``.
        society_logits: from ``z_s``. Shapes: ``(batch, n_societies)``.
        instrument_logits: from ``z_s``. Shapes: ``(batch, n_instruments)``.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    recon: torch.Tensor
    function_logits: torch.Tensor
    adversary_logits: torch.Tensor
    region_logits: torch.Tensor
    society_logits: torch.Tensor
    instrument_logits: torch.Tensor

    def split(self, x: torch.Tensor, dims: list[int]) -> tuple[torch.Tensor, ...]:
        """Split a concatenated ``(batch, sum(dims))`` tensor into (c, s, a)."""
        return tuple(torch.split(x, dims, dim=1))


def _mlp(n_in: int, n_out: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
    )


class _CNNTrunk(nn.Module):
    """1-D conv blocks over time, mel bands as channels → (temporal, global) features.

    Convolving over time only (the bands are the input channels) costs a fraction of a 2-D CNN
    on this 2-core CPU budget, and keeps the exact spectral position a note sits at.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c_in = cfg.n_mels
        for c_out in cfg.channels:
            blocks += [
                nn.Conv1d(c_in, c_out, 5, padding=2, bias=False),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
                nn.MaxPool1d(2),
            ]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.temporal_size = c_in * 4
        self.global_size = c_in * 2
        self.temporal_pool = nn.AdaptiveAvgPool1d(4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shapes: ``x: (batch, n_mels, frames)`` → ``(batch, temporal), (batch, global)``."""
        h = self.blocks(x)  # (batch, C, T')
        temporal = self.temporal_pool(h).flatten(1)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return temporal, pooled


class FactorVAE(nn.Module):
    """Encoder, decoder and heads (see the module docstring).

    Args:
        cfg: sizes.
        trunk: an optional replacement for the CNN trunk (a module mapping the input to a
            ``(temporal, global)`` pair with sizes ``trunk.temporal_size``, ``trunk.global_size``),
            e.g. :class:`audio.backbone.BackboneTrunk`.
    """

    def __init__(self, cfg: ModelConfig, trunk: nn.Module | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk = trunk if trunk is not None else _CNNTrunk(cfg)
        t_size, g_size = int(self.trunk.temporal_size), int(self.trunk.global_size)
        self.use_stats = cfg.summary_stats and trunk is None
        if self.use_stats:
            self.stats_norm = nn.BatchNorm1d(2 * cfg.n_mels)
            g_size += 2 * cfg.n_mels
        if cfg.context_dim:
            self.context_norm = nn.BatchNorm1d(cfg.context_dim)
            self.context_drop = nn.Dropout(cfg.context_dropout)
            g_size += cfg.context_dim
        self.content = nn.Sequential(
            nn.Linear(t_size, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 2 * cfg.dim_c)
        )
        self.shared = nn.Sequential(nn.Linear(g_size, cfg.hidden), nn.ReLU())
        self.style = nn.Linear(cfg.hidden, 2 * cfg.dim_s)
        self.affect = nn.Linear(cfg.hidden, 2 * cfg.dim_a)
        self.dec_frames = cfg.frames // cfg.time_pool
        z_dim = sum(cfg.dims)
        self.decoder = nn.Sequential(
            nn.Linear(z_dim, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.n_mels * self.dec_frames),
        )
        self.function_head = _mlp(cfg.dim_a, cfg.n_functions, 64, cfg.dropout)
        self.adversary = _mlp(cfg.dim_a, cfg.n_regions, 64, 0.0)
        self.region_head = _mlp(cfg.dim_s, cfg.n_regions, 64, cfg.dropout)
        self.society_head = _mlp(cfg.dim_s, cfg.n_societies, 64, cfg.dropout)
        self.instrument_head = _mlp(cfg.dim_s, cfg.n_instruments, 64, 0.0)

    def encode(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters.

        Shapes: ``x: (batch, n_mels, frames)`` (normalised log-mel, or waveforms for a backbone
        trunk); ``context: (batch, context_dim)``, required when ``context_dim > 0``
        → ``mu, logvar: (batch, dim_c + dim_s + dim_a)``.
        """
        temporal, pooled = self.trunk(x)
        if self.use_stats:
            # Per-band mean and std over time: what MIRtoolbox-like descriptors summarise, and
            # what a linear probe reads region from on unseen societies (measured).
            stats = torch.cat([x.mean(dim=2), x.std(dim=2)], dim=1)
            pooled = torch.cat([pooled, self.stats_norm(stats)], dim=1)
        if self.cfg.context_dim:
            if context is None or context.shape != (x.shape[0], self.cfg.context_dim):
                got = None if context is None else tuple(context.shape)
                raise ValueError(
                    f"this model reads a context vector of shape (batch, {self.cfg.context_dim}); "
                    f"got {got}"
                )
            pooled = torch.cat([pooled, self.context_drop(self.context_norm(context))], dim=1)
        c = self.content(temporal)
        h = self.shared(pooled)
        s, a = self.style(h), self.affect(h)
        mu = torch.cat([c[:, : self.cfg.dim_c], s[:, : self.cfg.dim_s], a[:, : self.cfg.dim_a]], 1)
        logvar = torch.cat(
            [c[:, self.cfg.dim_c :], s[:, self.cfg.dim_s :], a[:, self.cfg.dim_a :]], 1
        ).clamp(-8.0, 6.0)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Shapes: ``z: (batch, dim_c + dim_s + dim_a)`` → ``(batch, n_mels, frames // pool)``."""
        return self.decoder(z).view(-1, self.cfg.n_mels, self.dec_frames)

    def forward(
        self,
        x: torch.Tensor,
        adversary_scale: float = 1.0,
        context: torch.Tensor | None = None,
    ) -> Factors:
        """Encode, sample, decode and run every head.

        Shapes: ``x: (batch, n_mels, frames)``, ``context: (batch, context_dim)``; see
        :class:`Factors` for the outputs.
        """
        mu, logvar = self.encode(x, context)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        # The heads read the posterior means: with a small β the sampling noise would otherwise
        # drown the factors' signal early in training (measured: the instrument head then stays
        # at chance); the decoder reads the samples, as in any VAE.
        _, z_s, z_a = torch.split(mu, self.cfg.dims, dim=1)
        return Factors(
            mu=mu,
            logvar=logvar,
            z=z,
            recon=self.decode(z),
            function_logits=self.function_head(z_a),
            adversary_logits=self.adversary(grad_reverse(z_a, adversary_scale)),
            region_logits=self.region_head(z_s),
            society_logits=self.society_head(z_s),
            instrument_logits=self.instrument_head(z_s),
        )
