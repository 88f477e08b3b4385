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


class AxisPermutation(Bijector):
    """A fixed permutation ``perm`` of the positions along trailing dim ``dim`` (``>= 2``):
    ``y.select(dim, i) = x.select(dim, perm[i])``; volume preserving (WaveFlow's height
    permutations)."""

    def __init__(self, perm: list[int] | torch.Tensor, dim: int = 2) -> None:
        super().__init__()
        perm = torch.as_tensor(perm, dtype=torch.long)
        valid = perm.dim() == 1 and torch.equal(perm.sort().values, torch.arange(len(perm)))
        if dim < 2 or not valid:
            raise ValueError(
                f"AxisPermutation: need a permutation of 0..n-1 and dim >= 2, got {perm.tolist()}, "
                f"dim {dim}"
            )
        self.dim = dim
        self.register_buffer("perm", perm)
        self.register_buffer("inverse_perm", torch.argsort(perm))

    def _permute(self, x: Tensor, index: Tensor) -> Tensor:
        if x.dim() <= self.dim or x.shape[self.dim] != len(index):
            raise ValueError(
                f"AxisPermutation: expected {len(index)} positions along dim {self.dim}, "
                f"got input {list(x.shape)}"
            )
        return x.index_select(self.dim, index)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._permute(x, self.perm), zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._permute(y, self.inverse_perm), zero_logdet(y)
