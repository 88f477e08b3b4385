"""The folding stage of a lapped orthogonal transform (the MDCT's time-domain aliasing fold)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from waveflow.bijectors.base import Bijector, zero_logdet


def dct4_matrix(n: int) -> Tensor:
    """The orthonormal DCT-IV ``[n, n]`` (float64): ``sqrt(2/n) cos(pi (i + 1/2)(k + 1/2) / n)``.

    Symmetric and its own inverse.
    """
    i = torch.arange(n, dtype=torch.float64) + 0.5
    return torch.cos(math.pi * i[:, None] * i[None, :] / n) * math.sqrt(2.0 / n)


class LappedFold(Bijector):
    """Rotate the samples either side of every block boundary in mirrored pairs.

    Input ``[B, C, T]`` with ``T`` a multiple of ``block`` (even); each channel is a 1-D signal
    cut into blocks of ``block`` samples. At every interior boundary ``b = j * block`` the pair
    ``p = x[b - 1 - m]``, ``q = x[b + m]`` (``m < block / 2``) becomes

        ``x'[b - 1 - m] = -alpha_m p - beta_m q``,   ``x'[b + m] = beta_m p - alpha_m q``

    with ``alpha_m = w(block/2 + m)``, ``beta_m = w(block/2 - 1 - m)`` from the sine window
    ``w(n) = sin(pi (n + 1/2) / (2 block))`` (Princen-Bradley: ``alpha^2 + beta^2 = 1``, so each
    pair is rotated and the log-det is 0). The outer half blocks at the two ends are unchanged.

    Followed by an orthonormal DCT-IV of each block read backwards (``dct4_matrix(block)``
    applied to ``x'[block-1], ..., x'[0]`` of the block), this is exactly the MDCT with the sine
    window and hop ``block`` (frame ``j`` covers samples ``[j block - block/2, j block + 3
    block/2)``): blocks of a signal become overlapping, smoothly windowed frames, with no
    block edge in the basis functions. Each output sample reads at most ``block / 2`` samples
    across one boundary.
    """

    def __init__(self, block: int) -> None:
        super().__init__()
        if block < 2 or block % 2:
            raise ValueError(f"LappedFold: block must be an even number >= 2, got {block}")
        self.block = block
        m = torch.arange(block // 2, dtype=torch.float64)
        alpha = torch.sin(math.pi * (block / 2 + m + 0.5) / (2 * block))
        beta = torch.sin(math.pi * (block / 2 - m - 0.5) / (2 * block))
        self.register_buffer("alpha", alpha, persistent=False)  # fixed: not in state_dicts
        self.register_buffer("beta", beta, persistent=False)

    def _blocks(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[2] % self.block:
            raise ValueError(
                f"LappedFold(block={self.block}): expected input [B, C, T] with T a multiple "
                f"of {self.block}, got {list(x.shape)}"
            )
        return x.reshape(x.shape[0], x.shape[1], -1, self.block)

    def _rotate(self, x: Tensor, inverse: bool) -> Tensor:
        blocks = self._blocks(x)
        half = self.block // 2
        alpha, beta = self.alpha.to(x.dtype), self.beta.to(x.dtype)
        if inverse:
            beta = -beta  # the transposed rotation
        # left[..., j, m] = x[b_j - 1 - m], right[..., j, m] = x[b_j + m], b_j = (j + 1) * block
        left = blocks[..., :-1, half:].flip(-1)
        right = blocks[..., 1:, :half]
        new_left = -alpha * left - beta * right
        new_right = beta * left - alpha * right
        first_halves = torch.cat([blocks[..., :1, :half], new_right], dim=-2)
        second_halves = torch.cat([new_left.flip(-1), blocks[..., -1:, half:]], dim=-2)
        return torch.cat([first_halves, second_halves], dim=-1).reshape(x.shape)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._rotate(x, inverse=False), zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._rotate(y, inverse=True), zero_logdet(y)
