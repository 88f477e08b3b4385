"""The network of WaveGlow's mel-conditioned prior (``prior: conditional``).

``PriorNet(in_channels, out_channels)(*inputs)`` concatenates its inputs along channels
(``[B, *, T']`` each: the grouped conditioning, and for an early output also the channels that
stay in the flow) and maps them with one ``Conv1d(kernel 3)`` to ``[B, 2 out_channels, T']`` =
(mean, log-std) of a Gaussian over ``out_channels`` latent channels, the layout of
:class:`waveflow.bijectors.LearnedPrior` (``net(cond)``) and of ``Split``'s ``prior_net``
(``net(x_kept, cond)``). The conv is zero-initialised, so a fresh prior is ``N(0, 1)``: the
standard prior. In a low-precision synthesis
(:func:`waveflow.audio.models.wavenet.autocast_nets`) it runs under autocast like the coupling
networks and returns float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.audio.models.wavenet import autocast_forward


class PriorNet(nn.Module):
    """Zero-initialised ``Conv1d(in_channels, 2 out_channels, 3)`` over the concatenated inputs."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.autocast_dtype: torch.dtype | None = None
        self.conv = nn.Conv1d(in_channels, 2 * out_channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def receptive_field(self) -> int:
        """Columns read on each side of an output column (the kernel-3 conv: 1)."""
        return self.conv.kernel_size[0] // 2

    def forward(self, *inputs: Tensor | None) -> Tensor:
        present = [t for t in inputs if t is not None]
        if not present:
            raise ValueError("PriorNet: the conditioning tensor is required")
        return autocast_forward(self.autocast_dtype, self._forward, *present)

    def _forward(self, *inputs: Tensor) -> Tensor:
        return self.conv(torch.cat(inputs, dim=1))
