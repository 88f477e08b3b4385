"""Multi-scale split: factor out channels early (Glow's split, WaveGlow's early outputs)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, zero_logdet
from waveflow.bijectors.prior import mean_and_log_std, standardize, unstandardize


class Split(Bijector):
    """Factor out the first ``out_channels`` channels; the rest continue through ``inner``.

    Forward on ``x [B, C, *trailing]``: ``x_out = x[:, :out_channels]`` leaves the flow here and
    ``x_kept = x[:, out_channels:]`` goes through ``inner`` (a bijector on
    ``[B, C - out_channels, *trailing]`` that must preserve its input shape; ``None`` is the
    identity). The output is ``cat([z_out, inner(x_kept)], dim=1)``, so the whole model stays a
    bijection between tensors of one shape and every latent is scored by the one base
    distribution. The order matches WaveGlow, whose latent is the concatenation of the early
    outputs followed by the final channels.

    Prior of the factored part:

    * ``prior_net=None``: fixed, ``z_out = x_out`` (scored by the base ``N(0, sigma^2)``;
      WaveGlow).
    * ``prior_net`` given: a learned conditional Gaussian ``N(mean, std^2)`` with
      ``(mean, log_std) = prior_net(x_kept, cond)`` (output ``[B, 2*out_channels, *trailing]``),
      expressed as ``z_out = (x_out - mean) / std`` with log-det ``-sum(log std)`` (Glow).
    """

    def __init__(
        self,
        num_channels: int,
        out_channels: int,
        inner: Bijector | None = None,
        prior_net: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not 0 < out_channels < num_channels:
            raise ValueError(
                f"Split: out_channels must be between 1 and {num_channels - 1}, got {out_channels}"
            )
        self.num_channels = num_channels
        self.out_channels = out_channels
        self.inner = inner
        self.prior_net = prior_net

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        x_out, x_kept = x[:, : self.out_channels], x[:, self.out_channels :]
        logdet = zero_logdet(x)
        if self.prior_net is not None:
            x_out, logdet = standardize(
                x_out, *mean_and_log_std(self, self.prior_net(x_kept, cond), x_out)
            )
        y_kept = x_kept
        if self.inner is not None:
            y_kept, inner_logdet = self.inner(x_kept, cond)
            if y_kept.shape != x_kept.shape:
                raise ValueError(
                    f"Split: inner bijector must preserve its input shape {list(x_kept.shape)}, "
                    f"returned {list(y_kept.shape)}"
                )
            logdet = logdet + inner_logdet
        return torch.cat([x_out, y_kept], dim=1), logdet

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        z_out, x_kept = y[:, : self.out_channels], y[:, self.out_channels :]
        logdet = zero_logdet(y)
        if self.inner is not None:
            x_kept, logdet = self.inner.inverse(x_kept, cond)
        if self.prior_net is not None:
            z_out, prior_logdet = unstandardize(
                z_out, *mean_and_log_std(self, self.prior_net(x_kept, cond), z_out)
            )
            logdet = logdet + prior_logdet
        return torch.cat([z_out, x_kept], dim=1), logdet
