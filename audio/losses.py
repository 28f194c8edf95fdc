"""The terms of the disentangling objective (design note §2.2), as plain functions.

``L = L_recon + β·KL + γ·TC + λ_adv·L_domain + λ_nce·L_sim + supervised heads``

* :func:`kl_normal`: β-VAE's KL of a diagonal Gaussian posterior to N(0, I).
* :func:`total_correlation`: the TC *between factor groups* (z_c, z_s, z_a), estimated on a
  minibatch with β-TC-VAE's minibatch-weighted sampling: ``E[log q(z) - Σ_g log q(z_g)]``.
* :func:`info_nce`: the symmetric InfoNCE between two views' ``z_c``.
* :func:`grad_reverse`: the gradient reversal layer in front of the culture adversary on ``z_a``.
* :func:`between_group_share`: η², the share of ``z_a``'s variance explained by region.

Examples:
    >>> import torch
    >>> z = torch.nn.functional.normalize(torch.eye(4), dim=1)
    >>> float(info_nce(z, z, temperature=0.05)) < 1e-3
    True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "kl_normal",
    "gaussian_log_density",
    "total_correlation",
    "info_nce",
    "grad_reverse",
    "GradReverse",
    "masked_cross_entropy",
    "between_group_share",
]


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over dimensions, averaged over the batch.

    Shapes: ``mu, logvar: (batch, dim)`` → scalar.
    """
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Log density of every sample under every posterior, per dimension.

    Shapes: ``z: (batch, dim)``, ``mu, logvar: (batch, dim)`` → ``(batch, batch, dim)`` where
    ``[i, j, d] = log q(z_i[d] | x_j)``.
    """
    diff = z[:, None, :] - mu[None, :, :]
    inv_var = torch.exp(-logvar)[None, :, :]
    return -0.5 * (diff.square() * inv_var + logvar[None, :, :] + math.log(2 * math.pi))


def total_correlation(
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    groups: list[int],
    dataset_size: int,
) -> torch.Tensor:
    """Total correlation between groups of latent dimensions (minibatch-weighted sampling).

    ``TC = KL(q(z) || Π_g q(z_g))``; with one dimension per group it is β-TC-VAE's TC. Here the
    groups are the three factors, so the penalty asks z_c, z_s and z_a to be independent of each
    other while leaving the dimensions inside a factor free to correlate.

    Args:
        z: samples. Shapes: ``(batch, dim)``.
        mu: posterior means. Shapes: ``(batch, dim)``.
        logvar: posterior log-variances. Shapes: ``(batch, dim)``.
        groups: sizes of consecutive groups, summing to ``dim``.
        dataset_size: number of training examples (the estimator's importance weight).

    Returns:
        Scalar (can be slightly negative: it is an estimate).
    """
    batch = z.shape[0]
    log_qz_ij = gaussian_log_density(z, mu, logvar)  # (batch, batch, dim)
    norm = math.log(batch * dataset_size)
    log_qz = torch.logsumexp(log_qz_ij.sum(dim=2), dim=1) - norm
    log_prod = torch.zeros_like(log_qz)
    start = 0
    for size in groups:
        part = log_qz_ij[:, :, start : start + size].sum(dim=2)
        log_prod = log_prod + torch.logsumexp(part, dim=1) - norm
        start += size
    return (log_qz - log_prod).mean()


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE: row ``i`` of ``a`` and row ``i`` of ``b`` are the positive pair.

    Shapes: ``a, b: (batch, dim)`` → scalar.
    """
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class GradReverse(torch.autograd.Function):
    """Identity forward; gradient multiplied by ``-scale`` backward (Ganin & Lempitsky, 2015)."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, scale: float
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale  # type: ignore[attr-defined]
        return x.view_as(x)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None  # type: ignore[attr-defined]


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Gradient reversal. Shapes: ``x: (...)`` → same."""
    return GradReverse.apply(x, scale)  # type: ignore[no-any-return]


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the rows whose target is ``>= 0`` (``-1`` = unlabelled); 0 if none.

    Shapes: ``logits: (batch, classes)``, ``target: (batch,)`` → scalar.
    """
    keep = target >= 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[keep], target[keep])


def between_group_share(z: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Share of each dimension's variance explained by the groups (η²), summed over dimensions.

    Rows with ``groups < 0`` are ignored. Each dimension is standardised over the kept rows, so
    the penalty cannot be escaped by rescaling; it is what a linear probe on standardised
    features reads, so pushing it down hides the groups from such a probe (a gradient-reversal
    adversary can instead be fooled without the information leaving).

    Shapes: ``z: (batch, dim)``, ``groups: (batch,)`` → scalar (0 when fewer than two rows).
    """
    keep = groups >= 0
    if int(keep.sum()) < 2:
        return z.sum() * 0.0
    z, g = z[keep], groups[keep]
    zn = (z - z.mean(dim=0)) / (z.std(dim=0) + 1e-4)
    labels, inverse = torch.unique(g, return_inverse=True)
    sums = torch.zeros(len(labels), z.shape[1], dtype=z.dtype).index_add_(0, inverse, zn)
    counts = torch.bincount(inverse, minlength=len(labels)).to(z.dtype)
    return (sums.square().sum(dim=1) / counts).sum() / z.shape[0]
