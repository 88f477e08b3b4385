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

COUPLING_MODES = ("affine", "sigmoid", "additive")


class AffineCoupling(Bijector):
    """Keep one half of the channels, transform the other with parameters computed from it.

    ``x`` (``[B, C, *trailing]``, ``C`` even) is split into halves ``x_a = x[:, :C/2]`` and
    ``x_b = x[:, C/2:]``; ``keep="first"`` keeps ``x_a`` and transforms ``x_b`` (WaveGlow, Glow),
    ``keep="second"`` the reverse. ``h = net(x_kept, cond)`` must have shape
    ``[B, C, *trailing]`` for the affine modes (first half: shift ``t``, second half: the scale's
    pre-activation, WaveGlow's layout) and ``[B, C/2, *trailing]`` for ``"additive"`` (shift only).

    Modes: ``"affine"`` ``y = exp(log_s) * x + t`` with ``log_s = h_scale`` (WaveGlow);
    ``"sigmoid"`` ``y = sigmoid(h_scale + 2) * x + t`` (Glow); ``"additive"`` ``y = x + t``
    (NICE, log-det 0). ``net`` is any module with the signature ``net(x, cond)``.
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
        if mode not in COUPLING_MODES:
            raise ValueError(f"AffineCoupling: mode must be one of {COUPLING_MODES}, got {mode!r}")
        if keep not in ("first", "second"):
            raise ValueError(f"AffineCoupling: keep must be 'first' or 'second', got {keep!r}")
        self.num_channels = num_channels
        self.net = net
        self.mode = mode
        self.keep = keep

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x.chunk(2, dim=1)
        return (a, b) if self.keep == "first" else (b, a)

    def _merge(self, kept: Tensor, moved: Tensor) -> Tensor:
        return torch.cat([kept, moved] if self.keep == "first" else [moved, kept], dim=1)

    def _shift_and_log_scale(
        self, kept: Tensor, cond: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        h = self.net(kept, cond)
        half = self.num_channels // 2
        expected = half if self.mode == "additive" else 2 * half
        if h.shape[0] != kept.shape[0] or h.shape[1] != expected or h.shape[2:] != kept.shape[2:]:
            raise ValueError(
                f"AffineCoupling: net returned shape {list(h.shape)}, expected "
                f"[{kept.shape[0]}, {expected}, {', '.join(map(str, kept.shape[2:]))}]"
            )
        return self.shift_and_log_scale_of(h)

    def shift_and_log_scale_of(self, h: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(shift, log_scale)`` from the net's output ``h``; ``log_scale`` is None (additive).

        Public so that a caller can read the per-position log-scales (e.g. a chunked
        likelihood that sums the log-det over some positions only) from a hook on ``net``.
        """
        if self.mode == "additive":
            return h, None
        shift, pre = h.chunk(2, dim=1)
        log_scale = pre if self.mode == "affine" else F.logsigmoid(pre + 2.0)
        return shift, log_scale

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        kept, moved = self._split(x)
        shift, log_scale = self._shift_and_log_scale(kept, cond)
        if log_scale is None:
            return self._merge(kept, moved + shift), zero_logdet(x)
        y = moved * log_scale.exp() + shift
        return self._merge(kept, y), sum_per_sample(log_scale, logdet_dtype(x))

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        kept, moved = self._split(y)
        shift, log_scale = self._shift_and_log_scale(kept, cond)
        if log_scale is None:
            return self._merge(kept, moved - shift), zero_logdet(y)
        x = (moved - shift) * torch.exp(-log_scale)
        return self._merge(kept, x), -sum_per_sample(log_scale, logdet_dtype(y))
