"""Coupling with a fixed binary mask (RealNVP's checkerboard), sharing the coupling transform."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector
from waveflow.bijectors.coupling import CouplingParams, couple, uncouple


def checkerboard_mask(num_channels: int, height: int, width: int, parity: int = 0) -> Tensor:
    """``[num_channels, height, width]`` float mask, 1 where ``(h + w + parity)`` is even.

    ``parity=0`` keeps the top-left pixel, ``parity=1`` the other colour; the same pattern in
    every channel (RealNVP's spatial checkerboard).
    """
    if parity not in (0, 1) or min(num_channels, height, width) <= 0:
        raise ValueError(
            f"checkerboard_mask: need positive sizes and parity 0 or 1, got "
            f"{num_channels}x{height}x{width}, parity {parity}"
        )
    rows = torch.arange(height).view(-1, 1)
    cols = torch.arange(width).view(1, -1)
    board = ((rows + cols + parity) % 2 == 0).float()
    return board.expand(num_channels, height, width).clone()


class MaskedCoupling(Bijector):
    """``y = m * x + (1 - m) * (x * exp(log_s) + t)`` with ``(t, log_s)`` from ``net(m * x)``.

    ``mask`` (``m``, a ``[C, *trailing]`` tensor of 0s and 1s, kept as a buffer) marks the
    entries that are kept and condition the network; the others are transformed. ``net(m * x,
    cond)`` returns ``[B, 2C, *trailing]`` (shift, then scale pre-activation) or, for
    ``"additive"``, ``[B, C, *trailing]``; ``mode`` is one of the coupling modes of
    :class:`~waveflow.bijectors.coupling.CouplingParams` (RealNVP: ``"tanh"``). The log-det
    sums ``log_s`` over the transformed entries only. Inputs must be ``[B, *mask.shape]``.
    """

    def __init__(self, mask: Tensor, net: nn.Module, mode: str = "tanh") -> None:
        super().__init__()
        if mask.dim() < 1 or not torch.all((mask == 0) | (mask == 1)):
            raise ValueError("MaskedCoupling: mask must be a [C, *trailing] tensor of 0s and 1s")
        if mask.all() or not mask.any():
            raise ValueError("MaskedCoupling: mask must keep some entries and transform others")
        self.register_buffer("mask", mask.float())
        self.net = net
        self.params = CouplingParams(mask.shape[0], mode)
        self.mode = mode

    def _masked_params(self, x: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if tuple(x.shape[1:]) != tuple(self.mask.shape):
            expected = ", ".join(map(str, self.mask.shape))
            raise ValueError(
                f"MaskedCoupling: expected input of shape [B, {expected}], got {list(x.shape)}"
            )
        mask = self.mask.to(x.dtype)
        shift, log_scale = self.params(self.net(x * mask, cond), x, "MaskedCoupling")
        free = 1 - mask
        return shift * free, None if log_scale is None else log_scale * free

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return couple(x, *self._masked_params(x, cond))

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return uncouple(y, *self._masked_params(y, cond))
