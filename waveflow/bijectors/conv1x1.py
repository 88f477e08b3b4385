"""Invertible 1x1 convolution (Glow, WaveGlow's ``Invertible1x1Conv``): ``y = W x`` per position."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors.base import (
    Bijector,
    check_channels,
    logdet_dtype,
    trailing_size,
    weights_key,
)


def random_rotation(num_channels: int, generator: torch.Generator | None = None) -> Tensor:
    """A random orthogonal ``[C, C]`` matrix with determinant +1 (QR of a Gaussian matrix)."""
    q, _ = torch.linalg.qr(torch.randn(num_channels, num_channels, generator=generator))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def mix_channels(x: Tensor, weight: Tensor) -> Tensor:
    """``y[:, i] = sum_j weight[i, j] x[:, j]`` at every position of ``x [B, C, *trailing]``."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    return F.conv1d(flat, weight.to(x.dtype).unsqueeze(-1)).reshape(x.shape)


class InvertibleConv1x1(Bijector):
    """A learned invertible channel mixing ``y[:, i] = sum_j W[i, j] x[:, j]`` at every position.

    Parametrisations:

    * dense (``lu=False``): ``W`` is the parameter ``weight [C, C]``, initialised to a random
      rotation; log|det W| comes from ``slogdet`` in float32 (float64 for float64 weights), also
      under autocast.
    * LU (``lu=True``, Glow): ``W = P @ L @ (U + diag(sign_s * exp(log_s)))`` with a fixed
      permutation ``P`` and fixed ``sign_s`` (buffers), learned strictly lower ``L`` (unit
      diagonal), strictly upper ``U`` and ``log_s``; log|det W| = sum(log_s).

    The layer's log-det is log|det W| times the number of positions (trailing size). The inverse
    matrix is computed in float64 and, when no gradient is needed, cached; the cache is keyed on
    the version counters, storage and dtype of the parameters and buffers, so any change to them
    (an optimizer step, ``load_state_dict``, ``.to()``) invalidates it.
    """

    def __init__(self, num_channels: int, lu: bool = False) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.lu = lu
        c = num_channels
        if lu:
            self.register_buffer("perm", torch.eye(c))
            self.register_buffer("sign_s", torch.ones(c))
            self.register_buffer("lower_mask", torch.ones(c, c).tril(-1), persistent=False)
            self.lower = nn.Parameter(torch.zeros(c, c))
            self.upper = nn.Parameter(torch.zeros(c, c))
            self.log_s = nn.Parameter(torch.zeros(c))
        else:
            self.weight = nn.Parameter(torch.eye(c))
        self._inverse_cache: tuple[tuple, Tensor] | None = None
        self.set_matrix(random_rotation(c))

    @classmethod
    def from_matrix(cls, matrix: Tensor, lu: bool = False) -> InvertibleConv1x1:
        """A layer computing ``y = matrix @ x``, in the dtype of ``matrix`` (square, invertible)."""
        layer = cls(matrix.shape[0], lu=lu).to(matrix.dtype)
        layer.set_matrix(matrix)
        return layer

    @torch.no_grad()
    def set_matrix(self, matrix: Tensor) -> None:
        """Make the layer compute ``y = matrix @ x``; in LU mode the matrix is factorised."""
        c = self.num_channels
        if matrix.shape != (c, c):
            raise ValueError(
                f"InvertibleConv1x1: expected a [{c}, {c}] matrix, got {list(matrix.shape)}"
            )
        if not self.lu:
            self.weight.copy_(matrix)
            return
        perm, lower, upper = torch.linalg.lu(matrix.double())
        s = torch.diagonal(upper)
        if (s == 0).any():
            raise ValueError("InvertibleConv1x1: the matrix is singular")
        self.perm.copy_(perm)
        self.sign_s.copy_(torch.sign(s))
        self.log_s.copy_(s.abs().log())
        self.lower.copy_(lower.tril(-1))
        self.upper.copy_(upper.triu(1))

    def matrix(self) -> Tensor:
        """The current ``[C, C]`` weight ``W`` (assembled outside autocast in LU mode)."""
        if not self.lu:
            return self.weight
        with torch.autocast(self.log_s.device.type, enabled=False):
            eye = torch.eye(self.num_channels, dtype=self.lower.dtype, device=self.lower.device)
            lower = self.lower * self.lower_mask + eye
            upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
            return self.perm @ lower @ upper

    def log_abs_det(self) -> Tensor:
        """log|det W| as a scalar in float32 or float64, computed outside autocast."""
        if self.lu:
            return self.log_s.to(logdet_dtype(self.log_s)).sum()
        with torch.autocast(self.weight.device.type, enabled=False):
            return torch.linalg.slogdet(self.weight.to(logdet_dtype(self.weight)))[1]

    def _cache_key(self) -> tuple | None:
        return weights_key([*self.parameters(recurse=False), *self.buffers(recurse=False)])

    def inverse_matrix(self) -> Tensor:
        """``W^-1`` in the dtype of ``W`` (cached when gradients are off)."""
        weight = self.matrix()
        if torch.is_grad_enabled() and weight.requires_grad:
            return torch.linalg.inv(weight.double()).to(weight.dtype)
        key = self._cache_key()
        if self._inverse_cache is not None and self._inverse_cache[0] == key:
            return self._inverse_cache[1]
        inverse = torch.linalg.inv(weight.detach().double()).to(weight.dtype)
        self._inverse_cache = None if key is None else (key, inverse)
        return inverse

    def _logdet(self, x: Tensor) -> Tensor:
        return (self.log_abs_det().to(logdet_dtype(x)) * trailing_size(x)).expand(x.shape[0])

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        return mix_channels(x, self.matrix()), self._logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        return mix_channels(y, self.inverse_matrix()), -self._logdet(y)
