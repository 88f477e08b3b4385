"""Tiny conditioned coupling networks shared by the bijector exactness tests."""

from __future__ import annotations

import torch
from torch import nn

COND_CHANNELS = 3


class TinyNet(nn.Module):
    """``net(x, cond)``: a 3-tap convolution of ``x`` plus a bias from the mean of ``cond``.

    Works for any trailing shape; the cond term makes every output depend on ``cond``.
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int) -> None:
        super().__init__()
        conv = nn.Conv1d if spatial_dims == 1 else nn.Conv2d
        self.conv = conv(in_channels, out_channels, 3, padding=1)
        self.cond_proj = nn.Linear(COND_CHANNELS, out_channels)

    def forward(self, x, cond=None):
        h = torch.tanh(self.conv(x))
        if cond is not None:
            bias = self.cond_proj(cond.flatten(2).mean(-1))
            h = h + bias.view(*bias.shape, *([1] * (x.dim() - 2)))
        return h
