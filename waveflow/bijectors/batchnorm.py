"""Batch normalisation as a bijector (RealNVP, Section 3.7), with an exact log-det."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, logdet_dtype, trailing_size


class BatchNorm(Bijector):
    """``y = (x - mean) / sqrt(var + eps) * exp(log_gamma) + beta`` per channel.

    In training mode ``forward`` uses the statistics of the batch (over batch and trailing
    dims) and updates running averages (``momentum``); in eval mode, and always in
    ``inverse``, the running averages are used, so an eval-mode model is an exact bijection
    (sampling runs the inverse with the running statistics). The log-det treats the
    statistics as constants (RealNVP): ``trailing * sum(log_gamma - log(var + eps) / 2)``.
    Shapes: ``x`` is ``[B, num_channels, *trailing]`` (``[B, C]`` vectors too).
    """

    def __init__(self, num_channels: int, momentum: float = 0.05, eps: float = 1e-4) -> None:
        super().__init__()
        if not 0 < momentum <= 1:
            raise ValueError(f"BatchNorm: momentum must be in (0, 1], got {momentum}")
        self.num_channels = num_channels
        self.momentum = momentum
        self.eps = eps
        self.log_gamma = nn.Parameter(torch.zeros(num_channels))
        self.beta = nn.Parameter(torch.zeros(num_channels))
        self.register_buffer("running_mean", torch.zeros(num_channels))
        self.register_buffer("running_var", torch.ones(num_channels))

    def _view(self, t: Tensor, x: Tensor) -> Tensor:
        return t.view(1, self.num_channels, *([1] * (x.dim() - 2))).to(x.dtype)

    def _statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not self.training:
            return self.running_mean, self.running_var
        dims = [0, *range(2, x.dim())]
        mean = x.mean(dims)
        var = x.var(dims, unbiased=False)
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
            self.running_var.lerp_(var.detach().to(self.running_var.dtype), self.momentum)
        return mean, var

    def _logdet(self, x: Tensor, var: Tensor) -> Tensor:
        dtype = logdet_dtype(x)
        per_channel = self.log_gamma.to(dtype) - 0.5 * torch.log(var.to(dtype) + self.eps)
        return (per_channel.sum() * trailing_size(x)).expand(x.shape[0])

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        mean, var = self._statistics(x)
        scale = self._view(self.log_gamma.exp() / torch.sqrt(var + self.eps), x)
        y = (x - self._view(mean, x)) * scale + self._view(self.beta, x)
        return y, self._logdet(x, var)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        mean, var = self.running_mean, self.running_var
        scale = self._view(torch.sqrt(var + self.eps) * torch.exp(-self.log_gamma), y)
        x = (y - self._view(self.beta, y)) * scale + self._view(mean, y)
        return x, -self._logdet(y, var)
