"""A reference Glow in the layout of rosinality/glow-pytorch, for side-by-side timing only.

Written from the published description of that implementation (not its code): the same layers
and equations, so that ``tools/benchmark.py versus`` can time a Glow training step of waveflow
against the popular PyTorch port at the same size.

* ``ActNorm``: per-channel ``scale * (x + loc)``, initialised from the first batch, log-det
  ``H W sum log|scale|``;
* ``InvConv2dLU``: ``W = P (L * lower_mask + I) (U * upper_mask + diag(sign(s) exp(log_s)))``,
  recomputed every forward and applied as a 1x1 ``conv2d``; log-det ``H W sum log_s``;
* ``ZeroConv2d``: a 3x3 convolution on the input padded with ONES, weights and bias zero,
  output scaled by ``exp(3 scale)``;
* ``AffineCoupling``: ``net = conv3x3 (bias) -> ReLU -> conv1x1 (bias) -> ReLU ->
  ZeroConv2d``, weights of the first two from ``N(0, 0.05^2)``; ``log_s, t = net(x_a)``,
  ``s = sigmoid(log_s + 2)``, ``y_b = (x_b + t) s``, log-det ``sum log s``;
* ``Block``: squeeze by 2, ``n_flow`` flows (ActNorm, 1x1 conv, coupling), then split in halves
  with a Gaussian prior ``ZeroConv2d(kept) -> (mean, log_sd)`` for the factored half; the last
  block has a learned prior ``ZeroConv2d(zeros)`` over everything;
* ``Glow``: ``n_block`` blocks; :func:`bits_per_dim` is the usual dequantised NLL in bits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def gaussian_log_p(x: Tensor, mean: Tensor, log_sd: Tensor) -> Tensor:
    return -0.5 * math.log(2 * math.pi) - log_sd - 0.5 * (x - mean) ** 2 / torch.exp(2 * log_sd)


class ActNorm(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        flat = x.transpose(0, 1).reshape(x.shape[1], -1)
        self.loc.copy_(-flat.mean(1).view(1, -1, 1, 1))
        self.scale.copy_(1 / (flat.std(1).view(1, -1, 1, 1) + 1e-6))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.initialized.item() == 0:
            self.initialize(x)
            self.initialized.fill_(1)
        logdet = x.shape[2] * x.shape[3] * torch.sum(torch.log(torch.abs(self.scale)))
        return self.scale * (x + self.loc), logdet


class InvConv2dLU(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diag(upper)
        self.register_buffer("w_p", p)
        self.register_buffer("u_mask", torch.triu(torch.ones(channels, channels), 1))
        self.register_buffer("l_mask", self.u_mask.T.clone())
        self.register_buffer("s_sign", torch.sign(s))
        self.register_buffer("l_eye", torch.eye(channels))
        self.w_l = nn.Parameter(lower)
        self.w_s = nn.Parameter(torch.log(torch.abs(s)))
        self.w_u = nn.Parameter(torch.triu(upper, 1))

    def weight(self) -> Tensor:
        lower = self.w_l * self.l_mask + self.l_eye
        upper = self.w_u * self.u_mask + torch.diag(self.s_sign * torch.exp(self.w_s))
        return (self.w_p @ lower @ upper).unsqueeze(2).unsqueeze(3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return F.conv2d(x, self.weight()), x.shape[2] * x.shape[3] * torch.sum(self.w_s)


class ZeroConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=0)
        self.conv.weight.data.zero_()
        self.conv.bias.data.zero_()
        self.scale = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, [1, 1, 1, 1], value=1)) * torch.exp(self.scale * 3)


class AffineCoupling(nn.Module):
    def __init__(self, channels: int, filter_size: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels // 2, filter_size, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(filter_size, filter_size, 1),
            nn.ReLU(inplace=True),
            ZeroConv2d(filter_size, channels),
        )
        for conv in (self.net[0], self.net[2]):
            conv.weight.data.normal_(0, 0.05)
            conv.bias.data.zero_()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        in_a, in_b = x.chunk(2, 1)
        log_s, t = self.net(in_a).chunk(2, 1)
        s = torch.sigmoid(log_s + 2)
        out_b = (in_b + t) * s
        return torch.cat([in_a, out_b], 1), torch.sum(torch.log(s).view(x.shape[0], -1), 1)


class Flow(nn.Module):
    def __init__(self, channels: int, filter_size: int) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvConv2dLU(channels)
        self.coupling = AffineCoupling(channels, filter_size)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, logdet = self.actnorm(x)
        out, det1 = self.invconv(out)
        out, det2 = self.coupling(out)
        return out, logdet + det1 + det2


class Block(nn.Module):
    def __init__(self, channels: int, n_flow: int, filter_size: int, split: bool) -> None:
        super().__init__()
        squeezed = channels * 4
        self.flows = nn.ModuleList(Flow(squeezed, filter_size) for _ in range(n_flow))
        self.split = split
        if split:
            self.prior = ZeroConv2d(channels * 2, channels * 4)
        else:
            self.prior = ZeroConv2d(channels * 4, channels * 8)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, c, h, w = x.shape
        out = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        out = out.contiguous().view(b, c * 4, h // 2, w // 2)
        logdet = 0
        for flow in self.flows:
            out, det = flow(out)
            logdet = logdet + det
        if self.split:
            out, z_new = out.chunk(2, 1)
            mean, log_sd = self.prior(out).chunk(2, 1)
        else:
            z_new = out
            mean, log_sd = self.prior(torch.zeros_like(out)).chunk(2, 1)
        log_p = gaussian_log_p(z_new, mean, log_sd).view(b, -1).sum(1)
        return out, logdet, log_p


class Glow(nn.Module):
    """``Glow(in_channels, n_flow, n_block, filter_size)``; ``forward(x) -> (log_p, logdet)``."""

    def __init__(self, in_channels: int, n_flow: int, n_block: int, filter_size: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        channels = in_channels
        for i in range(n_block):
            last = i == n_block - 1
            self.blocks.append(Block(channels, n_flow, filter_size, split=not last))
            channels *= 2

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_p_sum, logdet, out = 0, 0, x
        for block in self.blocks:
            out, det, log_p = block(out)
            logdet = logdet + det
            log_p_sum = log_p_sum + log_p
        return log_p_sum, logdet


def bits_per_dim(model: Glow, x: Tensor, n_bits: int = 8) -> Tensor:
    """Mean bits per dimension of dequantised images ``x`` in ``[-0.5, 0.5]``."""
    n_pixel = x[0].numel()
    log_p, logdet = model(x)
    loss = -math.log(2**n_bits) * n_pixel + logdet + log_p
    return (-loss / (math.log(2) * n_pixel)).mean()
