"""Composition of bijectors and the inverse of a bijector."""

from __future__ import annotations

from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, zero_logdet


class Chain(Bijector):
    """``Chain(b1, b2, ...)``: forward applies b1 then b2 ...; inverse runs in reverse order.

    Every member receives the same ``cond``; log-determinants are summed.
    """

    def __init__(self, *bijectors: Bijector) -> None:
        super().__init__()
        self.bijectors = nn.ModuleList(bijectors)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        total = zero_logdet(x)
        for bijector in self.bijectors:
            x, logdet = bijector(x, cond)
            total = total + logdet
        return x, total

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        total = zero_logdet(y)
        for bijector in reversed(self.bijectors):
            y, logdet = bijector.inverse(y, cond)
            total = total + logdet
        return y, total

    def __len__(self) -> int:
        return len(self.bijectors)

    def __getitem__(self, index: int) -> Bijector:
        return self.bijectors[index]


class Inverse(Bijector):
    """Swap the directions of a bijector: ``Inverse(b).forward == b.inverse``."""

    def __init__(self, bijector: Bijector) -> None:
        super().__init__()
        self.bijector = bijector

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.bijector.inverse(x, cond)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.bijector(y, cond)
