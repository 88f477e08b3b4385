"""The pixel convention shared by data, model and sampling, and the bits/dim formula.

An 8-bit image is reduced to ``n_bits`` (``levels = floor(pixel / 2^(8 - n_bits))``, values in
``[0, n_bins)`` with ``n_bins = 2^n_bits``) and mapped to the model's range ``[-0.5, 0.5]``::

    x = (levels + u) / n_bins - 0.5,    u ~ Uniform[0, 1)  (uniform dequantisation)

The flow is a density ``p(x)`` on ``[-0.5, 0.5]^D``; the probability of the discrete image is at
least ``p(x) / n_bins^D`` (Jensen), so the reported bits per dimension are
``(-log p(x) + D log(n_bins)) / (D log 2)`` (Glow's objective).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from waveflow.errors import WaveflowError


def check_n_bits(n_bits: int) -> int:
    if not isinstance(n_bits, int) or not 1 <= n_bits <= 8:
        raise WaveflowError(f"n_bits must be an integer from 1 to 8, got {n_bits!r}")
    return n_bits


def check_levels(levels: Tensor, n_bits: int, owner: str = "dequantization") -> Tensor:
    """``levels`` unchanged if they are integer values in ``[0, 2^n_bits)``, else a one-line
    WaveflowError naming ``owner`` and an offending value (dequantising non-integer data, e.g.
    images already scaled to ``[0, 1]``, would silently train on the wrong density)."""
    n_bins = 2 ** check_n_bits(n_bits)
    if levels.dtype.is_floating_point:
        bad = levels != levels.floor()
        if bad.any():
            raise WaveflowError(
                f"{owner}: data must be integer levels in [0, {n_bins}), got non-integer value "
                f"{float(levels[bad][0]):.6g} (already dequantised or scaled?)"
            )
    if levels.numel() and (levels.min() < 0 or levels.max() >= n_bins):
        raise WaveflowError(
            f"{owner}: data must be integer levels in [0, {n_bins}) for n_bits={n_bits}, got "
            f"values in [{float(levels.min()):g}, {float(levels.max()):g}]"
        )
    return levels


def levels_of(x: Tensor, n_bits: int) -> Tensor:
    """The integer levels (int64) of model-space ``x`` (the bin each value falls in; bin centres
    and uniformly dequantised values alike)."""
    n_bins = 2 ** check_n_bits(n_bits)
    return torch.floor((x.detach().double() + 0.5) * n_bins).clamp(0, n_bins - 1).long()


def reduce_bits(pixels: Tensor, n_bits: int) -> Tensor:
    """uint8 pixels (any shape) -> integer levels in ``[0, 2^n_bits)`` (int64)."""
    return pixels.long() // (2 ** (8 - check_n_bits(n_bits)))


def dequantize(
    levels: Tensor, n_bits: int, noise: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    """Levels -> float32 ``x`` in ``[-0.5, 0.5]``: uniform noise in each bin, or bin centres.
    Non-integer or out-of-range levels are a WaveflowError (:func:`check_levels`)."""
    n_bins = 2 ** check_n_bits(n_bits)
    check_levels(levels, n_bits)
    if noise:
        offset = torch.rand(levels.shape, generator=generator)
    else:
        offset = torch.full(levels.shape, 0.5)
    return (levels.float() + offset) / n_bins - 0.5


def to_unit_range(x: Tensor, n_bits: int) -> Tensor:
    """Model-space ``x`` -> display values in ``[0, 1]``, quantised to the ``n_bits`` levels.

    Values outside ``[-0.5, 0.5]`` are clipped; NaN (a sample that overflowed, e.g. at high
    temperature early in training) is shown as black."""
    n_bins = 2 ** check_n_bits(n_bits)
    x = torch.nan_to_num(x.float(), nan=-0.5, posinf=0.5, neginf=-0.5)
    levels = torch.floor((x + 0.5) * n_bins).clamp(0, n_bins - 1)
    return levels / (n_bins - 1)


def bits_per_dim(log_prob: Tensor, num_dims: int, n_bits: int) -> Tensor:
    """Per-sample bits/dim ``[B]`` of the discrete data from ``log p(x)`` in nats ``[B]``."""
    n_bins = 2 ** check_n_bits(n_bits)
    return (-log_prob + num_dims * math.log(n_bins)) / (num_dims * math.log(2.0))
