"""Orthogonal channel mixing from Householder reflections: an invertible linear layer with
log-det 0, beside the dense and LU 1x1 convolutions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, zero_logdet
from waveflow.bijectors.conv1x1 import mix_channels


class Householder(Bijector):
    """``y[:, :, p] = Q x[:, :, p]`` at every position, ``Q = H_1 H_2 ... H_k`` with
    ``H_i = I - 2 v_i v_i^T / |v_i|^2`` (Tomczak & Welling 2016).

    ``Q`` is orthogonal for any learned ``v [k, C]``, so the inverse is ``Q^T`` (exact, no
    solve) and the log-det is 0 (volume preserving); ``k = C`` reflections reach every
    orthogonal matrix of determinant ``(-1)^C``. The vectors start as a seeded Gaussian draw
    (``seed``; ``None`` uses torch's global generator). Any trailing dims; ``[B, C]`` vectors too.
    """

    def __init__(
        self, num_channels: int, n_reflections: int | None = None, seed: int | None = 0
    ) -> None:
        super().__init__()
        k = num_channels if n_reflections is None else n_reflections
        if num_channels < 1 or k < 1:
            raise ValueError(
                f"Householder: num_channels and n_reflections must be >= 1, got {num_channels}, {k}"
            )
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        self.num_channels = num_channels
        self.vectors = nn.Parameter(torch.randn(k, num_channels, generator=generator))

    def matrix(self) -> Tensor:
        """The orthogonal ``[C, C]`` matrix ``Q``."""
        q = torch.eye(self.num_channels, dtype=self.vectors.dtype, device=self.vectors.device)
        for v in self.vectors:
            v = v / v.norm()
            q = q - 2 * torch.outer(q @ v, v)
        return q

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        return mix_channels(x, self.matrix()), zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        return mix_channels(y, self.matrix().T), zero_logdet(y)
