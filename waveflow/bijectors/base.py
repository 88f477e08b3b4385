"""The bijector contract and the shape helpers every layer shares.

A bijector is an invertible map between tensors of shape ``[B, C, *trailing]`` (channel dim 1;
``[B, C, T]`` for audio, ``[B, C, H, W]`` for images):

* ``forward(x, cond=None) -> (y, logdet)`` maps data toward the latent,
* ``inverse(y, cond=None) -> (x, logdet)`` maps back,

where ``logdet`` has shape ``[B]`` and holds log|det d(out)/d(in)| of the map that was applied,
summed over each sample. Hence ``inverse`` returns minus the forward log-determinant at the
corresponding point. ``cond`` is an optional conditioning tensor that layers either use (coupling
networks, learned priors) or ignore. Log-determinants are accumulated in float32 even when the
data is bf16/fp16 (float64 data keeps float64).
"""

from __future__ import annotations

import abc
import math

import torch
from torch import Tensor, nn


class Bijector(nn.Module, abc.ABC):
    """Base class of every invertible layer; see the module docstring for the contract."""

    @abc.abstractmethod
    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Map data ``x`` toward the latent; return ``(y, logdet[B])``."""

    @abc.abstractmethod
    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Map ``y`` back toward the data; return ``(x, logdet[B])``."""


def logdet_dtype(x: Tensor) -> torch.dtype:
    """float64 for float64 data, float32 otherwise (half-precision log-dets lose the plot)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def zero_logdet(x: Tensor) -> Tensor:
    """A ``[B]`` tensor of zeros in the log-det dtype of ``x``."""
    return torch.zeros(x.shape[0], dtype=logdet_dtype(x), device=x.device)


def sum_per_sample(t: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """Sum every dim but the first: ``[B, ...] -> [B]`` (optionally after casting to ``dtype``)."""
    if dtype is not None:
        t = t.to(dtype)
    return t.reshape(t.shape[0], -1).sum(dim=1)


def trailing_size(x: Tensor) -> int:
    """Number of positions per channel: the product of the dims after the channel dim."""
    return math.prod(x.shape[2:])


def weights_key(tensors) -> tuple | None:
    """A key that changes whenever the values of ``tensors`` may have changed, for caches of
    values derived from weights: each tensor's storage, dtype, device and version counter.

    Pass LEAF tensors (parameters, buffers), not weights computed from them (weight norm
    recomputes those on every access; in ``torch.inference_mode`` they are inference tensors,
    which have no version counter). None, meaning "do not cache", when a tensor is itself an
    inference tensor (a model built under ``inference_mode``): its in-place changes are not
    counted.
    """
    tensors = list(tensors)
    if any(t.is_inference() for t in tensors):
        return None
    return tuple((t._version, t.data_ptr(), t.dtype, t.device) for t in tensors)


def check_channels(layer: nn.Module, x: Tensor, num_channels: int) -> None:
    """Raise a ValueError naming ``layer`` unless ``x`` is ``[B, num_channels, ...]``."""
    if x.dim() < 2 or x.shape[1] != num_channels:
        raise ValueError(
            f"{type(layer).__name__}: expected input of shape [B, {num_channels}, ...], "
            f"got {list(x.shape)}"
        )
