"""A uniform base distribution on a box ``[low, high]^D``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import logdet_dtype, sum_per_sample
from waveflow.bijectors.gaussian import check_sigma


class Uniform(nn.Module):
    """Independent ``Uniform(low, high)`` entries over tensors ``[B, ...]``.

    ``log p(z) = -D log(high - low)`` inside the box, ``-inf`` outside (exact, in nats). The
    temperature ``sigma`` scales the box about its centre (``sigma=1``: the box itself). For a
    flow whose latent must stay in the box (e.g. splines without tails feeding it). ``cond`` is
    accepted and ignored.
    """

    def __init__(self, low: float = 0.0, high: float = 1.0, sigma: float = 1.0) -> None:
        super().__init__()
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"Uniform: need finite low < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)
        self.sigma = check_sigma(sigma, allow_zero=False, owner="Uniform")

    def _box(self, s: float) -> tuple[float, float]:
        centre, half = (self.low + self.high) / 2, (self.high - self.low) / 2
        return centre - s * half, centre + s * half

    def log_prob(self, z: Tensor, sigma: float | None = None, cond: Tensor | None = None) -> Tensor:
        """Per-sample log-density ``[B]`` of ``z [B, ...]`` (``-inf`` outside the box)."""
        s = self.sigma if sigma is None else check_sigma(sigma, False, "Uniform")
        low, high = self._box(s)
        z = z.to(logdet_dtype(z))
        inside = (z >= low) & (z <= high)
        per_element = torch.where(inside, -math.log(high - low), -math.inf)
        return sum_per_sample(per_element.to(z.dtype))

    def sample(
        self,
        shape: tuple[int, ...] | torch.Size,
        sigma: float | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """``z`` of ``shape`` uniform in the (tempered) box; ``sigma=0``: its centre."""
        s = self.sigma if sigma is None else check_sigma(sigma, True, "Uniform")
        low, high = self._box(s)
        u = torch.rand(shape, generator=generator, device=device, dtype=dtype or torch.float32)
        return low + (high - low) * u
