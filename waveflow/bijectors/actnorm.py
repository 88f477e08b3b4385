"""ActNorm (Glow): per-channel affine map with data-dependent initialisation."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, logdet_dtype, trailing_size


class ActNorm(Bijector):
    """``y = (x + bias) * exp(log_scale)`` with per-channel ``bias`` and ``log_scale``.

    On the first forward call the parameters are set from that batch so that ``y`` has zero
    mean and unit variance per channel (statistics over batch and trailing dims, averaged over
    all processes under torch.distributed). Whether this happened is the boolean buffer
    ``initialized``, saved in the state dict, so a reloaded model never re-initialises. Once
    a forward call has seen it set, a Python flag remembers it (reset by ``load_state_dict``),
    so later calls do not read the buffer: no device synchronisation per call on a GPU.

    Shapes: ``x`` is ``[B, num_channels, *trailing]``; logdet = trailing size * sum(log_scale).
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.log_scale = nn.Parameter(torch.zeros(num_channels))
        self.register_buffer("initialized", torch.tensor(False))
        self._seen_initialized = False
        self._register_load_state_dict_pre_hook(self._forget_initialized)

    def _forget_initialized(self, *args, **kwargs) -> None:
        self._seen_initialized = False

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set bias and scale so that ``forward(x)`` is standardised per channel."""
        check_channels(self, x, self.num_channels)
        dims = [0, *range(2, x.dim())]
        stats = torch.stack([x.mean(dims), (x * x).mean(dims)]).to(self.bias.dtype)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
            stats /= dist.get_world_size()
        mean, mean_sq = stats
        std = (mean_sq - mean * mean).clamp_min(0).sqrt()
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def _broadcast(self, t: Tensor, x: Tensor) -> Tensor:
        return t.view(1, self.num_channels, *([1] * (x.dim() - 2)))

    def _logdet(self, x: Tensor) -> Tensor:
        total = self.log_scale.to(logdet_dtype(x)).sum() * trailing_size(x)
        return total.expand(x.shape[0])

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, x, self.num_channels)
        if not self._seen_initialized:
            if not self.initialized:
                self.initialize(x)
            self._seen_initialized = True
        y = (x + self._broadcast(self.bias, x)) * self._broadcast(self.log_scale.exp(), x)
        return y, self._logdet(x)

    def inverse(self, y: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_channels(self, y, self.num_channels)
        x = y * self._broadcast(torch.exp(-self.log_scale), y) - self._broadcast(self.bias, y)
        return x, -self._logdet(y)
