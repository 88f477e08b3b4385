"""NICE's diagonal scaling layer: a learned scale per entry (or per channel)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, logdet_dtype


class Scale(Bijector):
    """``y = x * exp(log_scale)`` with a learned ``log_scale`` of shape ``shape``.

    ``shape`` is ``x.shape[1:]`` for one scale per entry (NICE's diagonal ``S``, e.g. ``(784,)``
    for flattened images or ``(1, 28, 28)``), or ``(C,)`` for one per channel when ``x`` has
    trailing dims (broadcast over them). ``log_scale`` starts at 0 (the identity). The log-det
    is the sum of ``log_scale`` over every entry of one sample.
    """

    def __init__(self, shape: tuple[int, ...] | int) -> None:
        super().__init__()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape or min(shape) <= 0:
            raise ValueError(f"Scale: shape must be non-empty and positive, got {shape}")
        self.shape = shape
        self.log_scale = nn.Parameter(torch.zeros(shape))

    def _broadcast(self, x: Tensor) -> Tensor:
        dims = x.dim() - 1
        if dims < len(self.shape) or tuple(x.shape[1 : 1 + len(self.shape)]) != self.shape:
            raise ValueError(
                f"Scale: input {list(x.shape)} does not start with [B, "
                f"{', '.join(map(str, self.shape))}, ...]"
            )
        return self.log_scale.view(1, *self.shape, *([1] * (dims - len(self.shape))))

    def _logdet(self, x: Tensor, log_scale: Tensor) -> Tensor:
        total = log_scale.to(logdet_dtype(x)).expand(1, *x.shape[1:]).sum()
        return total.expand(x.shape[0])

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_scale = self._broadcast(x)
        return x * log_scale.exp().to(x.dtype), self._logdet(x, log_scale)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_scale = self._broadcast(y)
        return y * torch.exp(-log_scale).to(y.dtype), -self._logdet(y, log_scale)
