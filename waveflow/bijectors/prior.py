"""Learned Gaussian priors written as bijections into the standard base.

Scoring ``x`` under a learned Gaussian ``N(mean, std^2)`` equals scoring
``z = (x - mean) / std`` under ``N(0, 1)`` plus the log-det ``-sum(log std)``. Writing priors
this way keeps one base distribution (``Gaussian``) for every latent, and sampling at
temperature ``T`` (``z ~ N(0, T^2)``, then the inverse) is Glow's ``mean + std * T * eps``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, logdet_dtype, sum_per_sample


def mean_and_log_std(layer: nn.Module, params: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """Split a prior network's output ``[B|1, 2C, ...]`` into mean and log-std for ``x``."""
    channels = x.shape[1]
    if params.dim() != x.dim() or params.shape[1] != 2 * channels:
        raise ValueError(
            f"{type(layer).__name__}: prior network returned shape {list(params.shape)}, "
            f"expected [B, {2 * channels}, ...] broadcastable to {list(x.shape)}"
        )
    mean, log_std = params.chunk(2, dim=1)
    return mean, log_std


def standardize(x: Tensor, mean: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
    """``z = (x - mean) * exp(-log_std)`` and its log-det ``[B]``."""
    z = (x - mean) * torch.exp(-log_std)
    return z, -sum_per_sample(log_std.expand_as(x), logdet_dtype(x))


def unstandardize(z: Tensor, mean: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`standardize`: ``x = z * exp(log_std) + mean`` and its log-det."""
    x = z * torch.exp(log_std) + mean
    return x, sum_per_sample(log_std.expand_as(z), logdet_dtype(z))


class LearnedPrior(Bijector):
    """A learned, optionally conditional, Gaussian prior ``N(mean, std^2)`` over ``x``.

    ``net(cond)`` returns ``[B or 1, 2 * num_channels, *trailing or 1s]`` (mean, then log-std),
    broadcastable to ``x``; ``cond`` may be ``None`` for an unconditional prior (Glow's
    ``learn_top``) or e.g. a one-hot class label (Glow's class-conditional top prior).
    """

    def __init__(self, num_channels: int, net: nn.Module) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.net = net

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        return standardize(x, *mean_and_log_std(self, self.net(cond), x))

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        return unstandardize(y, *mean_and_log_std(self, self.net(cond), y))
