"""The base distribution of every flow: an isotropic Gaussian N(0, sigma^2)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import logdet_dtype, sum_per_sample


class Gaussian(nn.Module):
    """Isotropic ``N(0, sigma^2)`` over tensors ``[B, ...]``; ``sigma`` doubles as temperature.

    ``log_prob`` is exact, normaliser included:
    ``sum_i -z_i^2 / (2 sigma^2) - log(sigma) - log(2 pi) / 2`` per sample, in nats, computed in
    float32 (float64 for float64 input). ``sigma`` can be overridden per call.
    """

    def __init__(self, sigma: float = 1.0) -> None:
        super().__init__()
        self.sigma = check_sigma(sigma, allow_zero=False)

    def log_prob(self, z: Tensor, sigma: float | None = None, cond: Tensor | None = None) -> Tensor:
        """Per-sample log-density ``[B]`` of ``z [B, ...]`` (``cond`` is ignored)."""
        s = self.sigma if sigma is None else check_sigma(sigma, allow_zero=False)
        z = z.to(logdet_dtype(z))
        per_element = -0.5 * (z / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        return sum_per_sample(per_element)

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
        """Draw ``z`` of ``shape`` from ``N(0, sigma^2)``; ``sigma=0`` gives the mode (zeros)."""
        s = self.sigma if sigma is None else check_sigma(sigma, allow_zero=True)
        z = torch.randn(shape, generator=generator, device=device, dtype=dtype or torch.float32)
        return z * s


def check_sigma(sigma: float, allow_zero: bool, owner: str = "Gaussian") -> float:
    """``sigma`` as a float; ValueError naming ``owner`` unless finite and > 0 (or >= 0)."""
    sigma = float(sigma)
    if not math.isfinite(sigma) or sigma < 0 or (sigma == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: sigma must be finite and {bound}, got {sigma}")
    return sigma
