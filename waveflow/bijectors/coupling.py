"""Affine and additive coupling layers (NICE, RealNVP, Glow, WaveGlow)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors.base import (
    Bijector,
    check_channels,
    logdet_dtype,
    sum_per_sample,
    zero_logdet,
)

COUPLING_MODES = ("affine", "sigmoid", "tanh", "additive")


class CouplingParams(nn.Module):
    """The elementwise part every coupling shares: net output ``h`` -> ``(shift, log_scale)``.

    For ``n`` transformed channels, ``h`` is ``[B, n, ...]`` for ``"additive"`` (shift only,
    ``log_scale`` is ``None``) and ``[B, 2n, ...]`` otherwise: first half the shift ``t``,
    second half the scale's pre-activation ``p``, with

    * ``"affine"``: ``log_s = p`` (WaveGlow),
    * ``"sigmoid"``: ``log_s = log sigmoid(p + 2)`` (Glow),
    * ``"tanh"``: ``log_s = a * tanh(p)`` with a learned per-channel bound ``a`` (initialised
      to 1; RealNVP's tanh-bounded scales),
    * ``"additive"``: ``log_s = 0`` (NICE).

    The transform is ``y = x * exp(log_s) + t`` (see :func:`couple` and :func:`uncouple`).
    """

    def __init__(self, num_channels: int, mode: str) -> None:
        super().__init__()
        if mode not in COUPLING_MODES:
            raise ValueError(f"coupling: mode must be one of {COUPLING_MODES}, got {mode!r}")
        self.num_channels = num_channels
        self.mode = mode
        if mode == "tanh":
            self.tanh_bound = nn.Parameter(torch.ones(num_channels))

    @property
    def net_channels(self) -> int:
        """Channels the coupling network must output."""
        return self.num_channels if self.mode == "additive" else 2 * self.num_channels

    def forward(self, h: Tensor, like: Tensor, owner: str) -> tuple[Tensor, Tensor | None]:
        """Split and activate ``h``; ``like`` is the tensor the params apply to (shape check)."""
        expected = self.net_channels
        if h.shape[0] != like.shape[0] or h.shape[1] != expected or h.shape[2:] != like.shape[2:]:
            raise ValueError(
                f"{owner}: net returned shape {list(h.shape)}, expected "
                f"{[like.shape[0], expected, *like.shape[2:]]}"
            )
        if self.mode == "additive":
            return h, None
        shift, pre = h.chunk(2, dim=1)
        if self.mode == "affine":
            return shift, pre
        if self.mode == "sigmoid":
            return shift, F.logsigmoid(pre + 2.0)
        bound = self.tanh_bound.view(1, -1, *([1] * (pre.dim() - 2)))
        return shift, bound.to(pre.dtype) * torch.tanh(pre)


def couple(x: Tensor, shift: Tensor, log_scale: Tensor | None) -> tuple[Tensor, Tensor]:
    """``y = x * exp(log_scale) + shift`` and its log-det ``[B]`` (0 when additive)."""
    if log_scale is None:
        return x + shift, zero_logdet(x)
    return x * log_scale.exp() + shift, sum_per_sample(log_scale, logdet_dtype(x))


def uncouple(y: Tensor, shift: Tensor, log_scale: Tensor | None) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`couple`: ``x = (y - shift) * exp(-log_scale)`` and its log-det."""
    if log_scale is None:
        return y - shift, zero_logdet(y)
    return (y - shift) * torch.exp(-log_scale), -sum_per_sample(log_scale, logdet_dtype(y))


class AffineCoupling(Bijector):
    """Keep one half of the channels, transform the other with parameters computed from it.

    ``x`` (``[B, C, *trailing]``, ``C`` even; ``[B, C]`` vectors too) is split into halves
    ``x_a = x[:, :C/2]`` and ``x_b = x[:, C/2:]``; ``keep="first"`` keeps ``x_a`` and transforms
    ``x_b`` (WaveGlow, Glow), ``keep="second"`` the reverse. ``h = net(x_kept, cond)`` must have
    shape ``[B, C, *trailing]`` for the scaled modes (first half: shift ``t``, second half: the
    scale's pre-activation, WaveGlow's layout) and ``[B, C/2, *trailing]`` for ``"additive"``
    (shift only). Modes (:class:`CouplingParams`): ``"affine"`` ``y = exp(h_scale) * x + t``
    (WaveGlow); ``"sigmoid"`` ``y = sigmoid(h_scale + 2) * x + t`` (Glow); ``"tanh"``
    ``y = exp(a * tanh(h_scale)) * x + t`` (RealNVP); ``"additive"`` ``y = x + t`` (NICE,
    log-det 0). ``net`` is any module with the signature ``net(x, cond)``.
    """

    def __init__(
        self, num_channels: int, net: nn.Module, mode: str = "affine", keep: str = "first"
    ) -> None:
        super().__init__()
        if num_channels % 2:
            raise ValueError(
                "AffineCoupling: num_channels must be even to split into halves, "
                f"got {num_channels}"
            )
        if keep not in ("first", "second"):
            raise ValueError(f"AffineCoupling: keep must be 'first' or 'second', got {keep!r}")
        self.num_channels = num_channels
        self.net = net
        self.params = CouplingParams(num_channels // 2, mode)
        self.mode = mode
        self.keep = keep

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x.chunk(2, dim=1)
        return (a, b) if self.keep == "first" else (b, a)

    def _merge(self, kept: Tensor, moved: Tensor) -> Tensor:
        return torch.cat([kept, moved] if self.keep == "first" else [moved, kept], dim=1)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        kept, moved = self._split(x)
        y, logdet = couple(moved, *self.params(self.net(kept, cond), kept, "AffineCoupling"))
        return self._merge(kept, y), logdet

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        kept, moved = self._split(y)
        x, logdet = uncouple(moved, *self.params(self.net(kept, cond), kept, "AffineCoupling"))
        return self._merge(kept, x), logdet
