"""Reshape: view each sample with another shape (e.g. flatten an image for NICE's MLPs)."""

from __future__ import annotations

import math

from torch import Tensor

from waveflow.bijectors.base import Bijector, zero_logdet


class Reshape(Bijector):
    """``[B, *in_shape] <-> [B, *out_shape]`` (same number of entries, C order); log-det 0."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape) or not self.in_shape:
            raise ValueError(f"Reshape: cannot reshape {self.in_shape} to {self.out_shape}")

    @staticmethod
    def _reshape(x: Tensor, source: tuple[int, ...], target: tuple[int, ...]) -> Tensor:
        if tuple(x.shape[1:]) != source:
            raise ValueError(
                f"Reshape: expected input [B, {', '.join(map(str, source))}], got {list(x.shape)}"
            )
        return x.reshape(x.shape[0], *target)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._reshape(x, self.in_shape, self.out_shape), zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._reshape(y, self.out_shape, self.in_shape), zero_logdet(y)


class ChannelsToAxis(Bijector):
    """``[B, C, *rest] <-> [B, 1, C, *rest]``: the channels become a new trailing axis (dim 2),
    for any trailing sizes (e.g. WaveGlow's grouped ``[B, h, T/h]`` as WaveFlow's one-channel
    ``h x T/h`` matrix); log-det 0."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.dim() < 2:
            raise ValueError(f"ChannelsToAxis: expected input [B, C, ...], got {list(x.shape)}")
        return x.unsqueeze(1), zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if y.dim() < 3 or y.shape[1] != 1:
            raise ValueError(f"ChannelsToAxis: expected input [B, 1, C, ...], got {list(y.shape)}")
        return y.squeeze(1), zero_logdet(y)
