"""The MDCT written out from its definition: the reference the lapped tests compare against."""

from __future__ import annotations

import math

import torch


def direct_mdct(signal: torch.Tensor, block: int, frame: int) -> torch.Tensor:
    """MDCT (sine window, hop ``block``) of ``signal [T]``'s frame ``j`` = ``frame``, which
    covers samples ``[j N - N/2, j N + 3N/2)`` (``N = block``); float64 ``[block]``."""
    n = torch.arange(2 * block, dtype=torch.float64)
    k = torch.arange(block, dtype=torch.float64)
    window = torch.sin(math.pi * (n + 0.5) / (2 * block))
    basis = torch.cos(math.pi / block * (n[None, :] + 0.5 + block / 2) * (k[:, None] + 0.5))
    start = frame * block - block // 2
    return math.sqrt(2.0 / block) * basis @ (window * signal[start : start + 2 * block])
