"""Rational-quadratic spline coupling (Neural Spline Flows' coupling layer)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels
from waveflow.bijectors.spline import RationalQuadraticSpline, spline_params_per_dim


def spline_net_channels(num_channels: int, num_bins: int, tails: str = "linear") -> int:
    """Channels a :class:`SplineCoupling` network must output for ``num_channels`` inputs."""
    return (num_channels - num_channels // 2) * spline_params_per_dim(num_bins, tails)


class SplineCoupling(Bijector):
    """Keep ``C // 2`` channels, pass the others through a monotonic spline conditioned on them.

    ``x [B, C, *trailing]`` (``[B, C]`` vectors too) is split into ``x_a = x[:, :C//2]`` and
    ``x_b = x[:, C//2:]``; ``keep="first"`` keeps ``x_a`` and transforms ``x_b``,
    ``keep="second"`` the reverse (then ``C - C//2`` channels are kept). ``h = net(x_kept,
    cond)`` has shape ``[B, n * P, *trailing]`` for ``n`` transformed channels and ``P =
    spline_params_per_dim(num_bins, tails)``, channel-major (channel ``i`` owns
    ``h[:, i*P:(i+1)*P]``; :func:`spline_net_channels` gives ``n * P``). Each transformed
    element goes through :class:`~waveflow.bijectors.spline.RationalQuadraticSpline` with its
    own parameters: ``y = spline(x)`` on ``[-bound, bound]`` and, with linear tails, the
    identity outside. A zero network output is the identity map.
    """

    def __init__(
        self,
        num_channels: int,
        net: nn.Module,
        num_bins: int = 8,
        bound: float = 3.0,
        tails: str = "linear",
        keep: str = "first",
    ) -> None:
        super().__init__()
        if num_channels < 2:
            raise ValueError(f"SplineCoupling: num_channels must be >= 2, got {num_channels}")
        if keep not in ("first", "second"):
            raise ValueError(f"SplineCoupling: keep must be 'first' or 'second', got {keep!r}")
        self.spline = RationalQuadraticSpline(num_bins, bound, tails, owner="SplineCoupling")
        self.num_channels = num_channels
        self.net = net
        self.keep = keep
        half = num_channels // 2
        self.sizes = (half, num_channels - half)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x.split(self.sizes, dim=1)
        return (a, b) if self.keep == "first" else (b, a)

    def _merge(self, kept: Tensor, moved: Tensor) -> Tensor:
        return torch.cat([kept, moved] if self.keep == "first" else [moved, kept], dim=1)

    def _couple(self, x: Tensor, cond: Tensor | None, inverse: bool) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        kept, moved = self._split(x)
        h = self.net(kept, cond)
        n, p = moved.shape[1], self.spline.params_per_dim
        if h.shape[0] != x.shape[0] or h.shape[1] != n * p or h.shape[2:] != x.shape[2:]:
            raise ValueError(
                f"SplineCoupling: net returned shape {list(h.shape)}, expected "
                f"{[x.shape[0], n * p, *x.shape[2:]]}"
            )
        y, logdet = self.spline(moved, h.reshape(h.shape[0], n, p, *h.shape[2:]), inverse)
        return self._merge(kept, y), logdet

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(x, cond, inverse=False)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._couple(y, cond, inverse=True)
