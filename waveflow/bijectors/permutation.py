"""Fixed channel permutations (the Glow paper's ablation of the 1x1 convolution)."""

from __future__ import annotations

import torch
from torch import Tensor

from waveflow.bijectors.base import Bijector, check_channels, zero_logdet


class Reverse(Bijector):
    """Reverse the order of the channels (RealNVP); volume preserving."""

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return x.flip(1), zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return y.flip(1), zero_logdet(y)


class Shuffle(Bijector):
    """A fixed random channel permutation drawn at construction (saved as a buffer).

    ``seed`` makes the permutation reproducible; ``None`` uses torch's global generator.
    """

    def __init__(self, num_channels: int, seed: int | None = None) -> None:
        super().__init__()
        self.num_channels = num_channels
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        perm = torch.randperm(num_channels, generator=generator)
        self.register_buffer("perm", perm)
        self.register_buffer("inverse_perm", torch.argsort(perm))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        return x[:, self.perm], zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        return y[:, self.inverse_perm], zero_logdet(y)
