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
        return self._run(x, cond, list(self.bijectors))

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._run(y, cond, [b.inverse for b in reversed(self.bijectors)])

    @staticmethod
    def _run(x: Tensor, cond: Tensor | None, maps: list) -> tuple[Tensor, Tensor]:
        """Apply ``maps`` in order, summing their log-dets (no zeros to start from)."""
        total = None
        for apply in maps:
            x, logdet = apply(x, cond)
            total = logdet if total is None else total + logdet
        return x, zero_logdet(x) if total is None else total

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
