"""The convolutional networks inside Glow: coupling nets and zero-initialised output convs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors import ActNorm

LOG_SCALE_FACTOR = 3.0


class ZeroConv2d(nn.Module):
    """3x3 convolution (zero padding) whose output is scaled by ``exp(3 * logs)`` per channel.

    Weight, bias and ``logs`` start at zero, so the layer outputs zeros at initialisation: a
    coupling that uses it starts as the identity (additive) or as a fixed scale of
    ``sigmoid(2)`` (affine), and a learned prior starts as N(0, 1) (Glow's ``conv2d_zeros``).
    Shapes: ``[B, in_channels, H, W] -> [B, out_channels, H, W]``; ``cond`` is ignored.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.logs = nn.Parameter(torch.zeros(out_channels))
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        # conv(x) * s == conv with weight * s and bias * s: the scale costs a [out] vector
        # multiply instead of a pass over the activations (same function, same gradients).
        scale = torch.exp(self.logs * LOG_SCALE_FACTOR)
        weight = self.conv.weight * scale.view(-1, 1, 1, 1)
        return F.conv2d(x, weight.to(x.dtype), (self.conv.bias * scale).to(x.dtype), padding=1)


def conv_actnorm(conv: nn.Conv2d, norm: ActNorm, x: Tensor) -> Tensor:
    """``norm(conv(x))`` for a bias-free ``conv``, as ONE convolution: ActNorm's
    ``(h + b) * exp(s)`` is folded into the weight (``W * exp(s)``) and a bias (``b * exp(s)``),
    so no pass over the activations. The first call initialises ``norm`` from ``conv(x)``
    (ActNorm's data-dependent initialisation)."""
    if not norm.initialized:
        norm.initialize(conv(x))
    scale = norm.log_scale.exp()
    weight = (conv.weight * scale.view(-1, 1, 1, 1)).to(x.dtype)
    return F.conv2d(x, weight, (norm.bias * scale).to(x.dtype), padding=conv.padding)


class CouplingNet(nn.Module):
    """Glow's coupling network: 3x3 conv -> ActNorm -> ReLU -> 1x1 conv -> ActNorm -> ReLU ->
    :class:`ZeroConv2d`.

    The hidden convolutions have no bias and are followed by ActNorm (as in Glow), initialised
    from the first batch that flows through them and folded into the convolution
    (:func:`conv_actnorm`); their weights start from N(0, 0.05^2).
    Shapes: ``[B, in_channels, H, W] -> [B, out_channels, H, W]``; ``cond`` is ignored (Glow's
    couplings are unconditional; class information enters through the top prior).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1, bias=False)
        self.norm_in = ActNorm(hidden_channels)
        self.conv_hidden = nn.Conv2d(hidden_channels, hidden_channels, kernel_size=1, bias=False)
        self.norm_hidden = ActNorm(hidden_channels)
        self.conv_out = ZeroConv2d(hidden_channels, out_channels)
        nn.init.normal_(self.conv_in.weight, std=0.05)
        nn.init.normal_(self.conv_hidden.weight, std=0.05)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if x.device.type == "cpu":  # oneDNN's own layout: no reorder around every convolution
            x = x.contiguous(memory_format=torch.channels_last)
        h = F.relu(conv_actnorm(self.conv_in, self.norm_in, x), inplace=True)
        h = F.relu(conv_actnorm(self.conv_hidden, self.norm_hidden, h), inplace=True)
        return self.conv_out(h)
