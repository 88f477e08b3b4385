"""WaveFlow's conditioner: a WaveNet-like stack of dilated 2-D convolutions over the ``h x w``
matrix of squeezed audio, causal along the height and non-causal along the width (time).

``HeightCausalWaveNet(n_in, n_cond, n_layers, n_channels, kernel_size, n_rows)`` maps
``u [B, n_in, H', W]`` (the rows ``< i`` of the matrix, shifted one row down, as
:class:`waveflow.bijectors.AxisAutoregressiveAffine` feeds it; ``H' <= n_rows``) and the
column conditioning ``cond [B, n_cond, W]`` (the mel at the column rate) to
``[B, 2 n_in, H', W]`` = [shift, log-scale]:

* ``start``: 1x1 conv ``n_in -> n_channels`` (weight norm);
* layer ``i``: ``kernel_size x kernel_size`` conv ``n_channels -> 2 n_channels`` with dilation
  ``(d_i, 2**i)`` (height, width), padded on the TOP only along the height (causal) and on both
  sides along the width; ``d_i = 2 ** (i mod ceil(log2 n_rows))`` (WaveFlow's height-dilation
  cycle: 1, 2, 4, 8, 1, 2, ... for ``h = 16``); plus this layer's slice of one fused 1x1
  projection of ``cond`` (``cond_layer``), broadcast over the rows; gate ``tanh * sigmoid``;
* ``res_skip_layers[i]``: 1x1 conv to ``2 n_channels`` (residual, skip) or ``n_channels`` (last);
* ``end``: 1x1 conv ``n_channels -> 2 n_in``, zero-initialised (a fresh flow is the identity).

``causal_window`` (rows one output sees) is ``1 + (kernel_size - 1) sum_i d_i``.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from waveflow.audio.models.wavenet import gated_activation


def height_dilations(n_layers: int, n_rows: int) -> list[int]:
    """Height dilation of each layer: ``2 ** (i mod ceil(log2 n_rows))`` (1 for one row)."""
    cycle = max(1, math.ceil(math.log2(n_rows))) if n_rows > 1 else 1
    return [2 ** (i % cycle) for i in range(n_layers)]


class HeightCausalWaveNet(nn.Module):
    """``net(u [B, n_in, H', W], cond [B, n_cond, W]) -> [B, 2 n_in, H', W]``; see the module."""

    def __init__(
        self,
        n_in: int,
        n_cond: int,
        n_layers: int,
        n_channels: int,
        kernel_size: int,
        n_rows: int,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"HeightCausalWaveNet: kernel_size must be odd, got {kernel_size}")
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.dilations = height_dilations(n_layers, n_rows)
        self.top_padding = [(kernel_size - 1) * d for d in self.dilations]
        self.start = weight_norm(nn.Conv2d(n_in, n_channels, 1))
        self.cond_layer = weight_norm(nn.Conv1d(n_cond, 2 * n_channels * n_layers, 1))
        self.in_layers = nn.ModuleList(
            weight_norm(
                nn.Conv2d(
                    n_channels,
                    2 * n_channels,
                    kernel_size,
                    dilation=(d, 2**i),
                    padding=(0, 2**i * (kernel_size - 1) // 2),
                )
            )
            for i, d in enumerate(self.dilations)
        )
        self.res_skip_layers = nn.ModuleList(
            weight_norm(nn.Conv2d(n_channels, (2 if i < n_layers - 1 else 1) * n_channels, 1))
            for i in range(n_layers)
        )
        self.end = nn.Conv2d(n_channels, 2 * n_in, 1)
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)
        self.causal_window = 1 + (kernel_size - 1) * sum(self.dilations)

    def forward(self, u: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("HeightCausalWaveNet: the mel conditioning tensor is required")
        n = self.n_channels
        h = self.start(u)
        cond_all = self.cond_layer(cond).unsqueeze(2)  # [B, 2 n L, 1, W]: the same for every row
        skip: Tensor | None = None
        for i, (in_layer, res_skip) in enumerate(
            zip(self.in_layers, self.res_skip_layers, strict=True)
        ):
            pre = in_layer(F.pad(h, (0, 0, self.top_padding[i], 0)))
            acts = gated_activation(pre, cond_all[:, 2 * n * i : 2 * n * (i + 1)], inplace=False)
            out = res_skip(acts)
            if i < self.n_layers - 1:
                h = h + out[:, :n]
                out = out[:, n:]
            skip = out if skip is None else skip + out
        assert skip is not None
        return self.end(skip)

