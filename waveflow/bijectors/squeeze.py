"""Squeeze: trade trailing resolution for channels (WaveGlow's grouping, Glow's space-to-depth)."""

from __future__ import annotations

from torch import Tensor

from waveflow.bijectors.base import Bijector, zero_logdet


class Squeeze(Bijector):
    """Group ``factor`` neighbouring positions of each trailing dim into channels.

    * ``spatial_dims=1``: ``[B, C, T] -> [B, C*f, T/f]``; output channel ``c*f + k`` holds
      ``x[:, c, t*f + k]`` (WaveGlow's ``n_group`` grouping for ``C = 1``).
    * ``spatial_dims=2``: ``[B, C, H, W] -> [B, C*f*f, H/f, W/f]``; output channel
      ``c*f*f + i*f + j`` holds ``x[:, c, h*f + i, w*f + j]`` (Glow's space-to-depth, the
      ``pixel_unshuffle`` order).

    A permutation of the entries, so the log-det is 0. ``inverse`` is the depth-to-space map.
    """

    def __init__(self, factor: int = 2, spatial_dims: int = 2) -> None:
        super().__init__()
        if factor < 1 or spatial_dims not in (1, 2):
            raise ValueError(
                f"Squeeze: need factor >= 1 and spatial_dims 1 or 2, got {factor}, {spatial_dims}"
            )
        self.factor = factor
        self.spatial_dims = spatial_dims

    def _describe(self) -> str:
        return f"Squeeze(factor={self.factor}, spatial_dims={self.spatial_dims})"

    def _check_rank(self, x: Tensor) -> None:
        if x.dim() != 2 + self.spatial_dims:
            layout = "[B, C, T]" if self.spatial_dims == 1 else "[B, C, H, W]"
            raise ValueError(f"{self._describe()}: expected input {layout}, got {list(x.shape)}")

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_rank(x)
        f = self.factor
        for size in x.shape[2:]:
            if size % f:
                raise ValueError(
                    f"{self._describe()}: trailing sizes {list(x.shape[2:])} of input "
                    f"{list(x.shape)} must be divisible by {f}"
                )
        b, c = x.shape[:2]
        if self.spatial_dims == 1:
            t = x.shape[2]
            y = x.reshape(b, c, t // f, f).permute(0, 1, 3, 2).reshape(b, c * f, t // f)
        else:
            h, w = x.shape[2:]
            y = x.reshape(b, c, h // f, f, w // f, f).permute(0, 1, 3, 5, 2, 4)
            y = y.reshape(b, c * f * f, h // f, w // f)
        return y, zero_logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_rank(y)
        f = self.factor
        b, cf = y.shape[:2]
        group = f**self.spatial_dims
        if cf % group:
            raise ValueError(
                f"{self._describe()}: inverse needs a channel count divisible by {group}, "
                f"got input {list(y.shape)}"
            )
        c = cf // group
        if self.spatial_dims == 1:
            t = y.shape[2]
            x = y.reshape(b, c, f, t).permute(0, 1, 3, 2).reshape(b, c, t * f)
        else:
            h, w = y.shape[2:]
            x = y.reshape(b, c, f, f, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c, h * f, w * f)
        return x, zero_logdet(y)
