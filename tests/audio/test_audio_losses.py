"""Known answers for the loss terms."""

from __future__ import annotations

import torch

from audio.losses import (
    between_group_share,
    grad_reverse,
    info_nce,
    kl_normal,
    masked_cross_entropy,
    total_correlation,
)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    zeros = torch.zeros(4, 3)
    assert float(kl_normal(zeros, zeros)) == 0.0
    # KL(N(1, 1) || N(0, 1)) = 1/2 per dimension.
    assert float(kl_normal(torch.ones(4, 3), zeros)) == 1.5


def test_total_correlation_sees_dependent_groups() -> None:
    # The minibatch estimate carries a constant offset, so compare two batches: group 2 copying
    # group 1 must score clearly above two independent groups.
    torch.manual_seed(0)
    n = 512
    logvar = torch.full((n, 4), -2.0)
    independent = torch.randn(n, 4)
    shared = torch.randn(n, 2)
    dependent = torch.cat([shared, shared], dim=1)

    def tc(mu: torch.Tensor) -> float:
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return float(total_correlation(z, mu, logvar, [2, 2], n))

    assert tc(dependent) > tc(independent) + 1.0


def test_info_nce_rewards_matching_views() -> None:
    torch.manual_seed(0)
    a = torch.randn(16, 8)
    matched = info_nce(a, a + 0.01 * torch.randn(16, 8))
    shuffled = info_nce(a, a[torch.randperm(16)])
    assert float(matched) < 0.1 < float(shuffled)


def test_gradient_reversal_flips_the_gradient() -> None:
    x = torch.ones(3, requires_grad=True)
    (grad_reverse(x, 0.5) * 2).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), -1.0))


def test_masked_cross_entropy_ignores_unlabelled_rows() -> None:
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    assert float(masked_cross_entropy(logits, torch.tensor([0, -1]))) < 0.01
    assert float(masked_cross_entropy(logits, torch.tensor([-1, -1]))) == 0.0


def test_between_group_share_sees_group_means_and_ignores_scale() -> None:
    torch.manual_seed(0)
    groups = torch.arange(64) % 4
    noise = torch.randn(64, 3)
    mixed = noise.clone()
    mixed[:, 0] += 3.0 * groups
    # Unrelated to the groups: only the small-sample floor (about (k - 1) / (n - 1) per dim).
    assert float(between_group_share(noise, groups)) < 0.3
    # Dimension 0 is mostly explained by the group.
    assert float(between_group_share(mixed, groups)) > 0.9
    assert torch.isclose(
        between_group_share(10.0 * mixed, groups), between_group_share(mixed, groups), atol=1e-4
    )
    # Unlabelled rows (-1) are ignored; fewer than two rows give 0.
    masked = torch.where(torch.arange(64) < 32, groups, torch.full_like(groups, -1))
    assert float(between_group_share(mixed, masked)) > 0.9
    assert float(between_group_share(mixed, torch.full_like(groups, -1))) == 0.0
