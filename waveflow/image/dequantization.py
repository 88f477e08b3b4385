"""Variational dequantisation (Flow++, Ho et al. 2019) for 8-bit (``n_bits``) images.

Uniform dequantisation scores ``x = (levels + u) / n_bins - 0.5`` with ``u ~ U[0, 1)^D``; the
bound it gives on the discrete likelihood is loose wherever the model's density is not flat
within a bin. Variational dequantisation learns the noise instead: ``u ~ q(u | levels)``, a
conditional flow, and trains the tighter bound

    log P(levels) >= E_q[ log p(x) - log q(u | levels) ] - D log(n_bins)

(Jensen; the last term converts the density on ``[-0.5, 0.5]^D`` to bins of width
``1 / n_bins``). Bits/dim computed from it are a VARIATIONAL BOUND on the true bits/dim, never
the exact value; with ``q`` uniform it is the usual uniform-dequantisation bound.

``q`` is built from the bijector core: ``eps ~ N(0, I)`` goes through the inverse of
``Chain(checkerboard MaskedCoupling x n_couplings, LearnedPrior)`` conditioned on features of
the image (a small CNN of the bin centres), then a sigmoid maps ``v`` into ``(0, 1)``:
``log q(u) = log N(eps) - log|det d v / d eps| - sum log sigmoid'(v)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors import Chain, Flow, LearnedPrior, MaskedCoupling, checkerboard_mask
from waveflow.image.coupling_net import ZeroConv2d
from waveflow.image.pixels import check_levels


def uniform_log_q(x: Tensor) -> Tensor:
    """``log q(u | levels) = 0`` ``[B]`` of uniform dequantisation (at least float32)."""
    return torch.zeros(
        x.shape[0], dtype=torch.promote_types(x.dtype, torch.float32), device=x.device
    )


class ConditionedNet(nn.Module):
    """``net(v_masked [B, C, H, W], features [B, F, H, W]) -> [B, 2C, H, W]``: 3x3 conv of
    both, ReLU, zero-initialised 3x3 conv (the coupling starts as the identity)."""

    def __init__(self, channels: int, features: int, hidden: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels + features, hidden, 3, padding=1)
        self.out = ZeroConv2d(hidden, 2 * channels)

    def forward(self, v: Tensor, features: Tensor | None) -> Tensor:
        return self.out(F.relu(self.conv(torch.cat([v, features], dim=1))))


class FeaturePrior(nn.Module):
    """``net(features) -> [B, 2C, H, W]``: the conditional Gaussian's mean and log-std (zero at
    initialisation: ``q`` starts as the logistic-normal of ``N(0, I)``)."""

    def __init__(self, channels: int, features: int) -> None:
        super().__init__()
        self.out = ZeroConv2d(features, 2 * channels)

    def forward(self, features: Tensor | None) -> Tensor:
        return self.out(features)


class VariationalDequantizer(nn.Module):
    """``q(u | levels)`` on ``[B, C, H, W]`` images of ``n_bits``; see the module docstring.

    ``forward(levels) -> (x, log_q)``: dequantised ``x`` in ``(-0.5, 0.5)`` (model space, same
    convention as :func:`waveflow.image.pixels.dequantize`) and ``log q(u | levels)`` ``[B]`` in
    nats; ``levels`` must be integer values in ``[0, 2^n_bits)`` (any dtype).
    """

    def __init__(
        self,
        channels: int,
        image_size: int,
        n_bits: int,
        hidden: int = 32,
        n_couplings: int = 2,
    ) -> None:
        super().__init__()
        if hidden <= 0 or n_couplings <= 0:
            raise ValueError(
                f"variational dequantization: hidden and n_couplings must be > 0, got "
                f"{hidden}, {n_couplings}"
            )
        self.n_bits = n_bits
        self.features = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
        )
        couplings = [
            MaskedCoupling(
                checkerboard_mask(channels, image_size, image_size, parity=index % 2),
                ConditionedNet(channels, hidden, hidden),
                mode="tanh",
            )
            for index in range(n_couplings)
        ]
        prior = LearnedPrior(channels, FeaturePrior(channels, hidden))
        self.flow = Flow(Chain(*couplings, prior))

    def forward(self, levels: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Draw ``u ~ q(u | levels)`` (from the given standard normal ``eps`` when passed)."""
        n_bins = 2**self.n_bits
        levels = check_levels(levels, self.n_bits, "variational dequantization")
        param = next(self.parameters())
        centres = ((levels.to(param.dtype) + 0.5) / n_bins - 0.5).to(param.device)
        features = self.features(centres)
        eps = torch.randn_like(centres) if eps is None else eps
        v, logdet = self.flow.inverse(eps, features)  # eps -> v: the sampling direction
        log_q_v = self.flow.base.log_prob(eps) - logdet
        log_q = log_q_v - (F.logsigmoid(v) + F.logsigmoid(-v)).flatten(1).sum(1)
        x = (levels.to(v.dtype) + torch.sigmoid(v)) / n_bins - 0.5
        return x, log_q
