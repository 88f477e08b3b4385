"""What every unconditional image flow built on one :class:`~waveflow.bijectors.Flow` shares
(NICE, RealNVP): input checks, log-likelihood, bits/dim, encode/decode and sampling.

The model maps ``x [B, C, H, W]`` (model space ``[-0.5, 0.5]``, see
:mod:`waveflow.image.pixels`) to a latent ``z`` of the same shape, scored by ``flow.base``. The
signatures match :class:`~waveflow.image.glow.Glow` (labels ``y`` are accepted and must be
``None``) so the image task, evaluation, sampling and demos work on every image flow.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from waveflow.bijectors import Flow
from waveflow.errors import WaveflowError
from waveflow.image.dequantization import uniform_log_q
from waveflow.image.pixels import bits_per_dim, check_n_bits


class ImageFlow(nn.Module):
    """Base class: subclasses set ``self.flow`` (a Flow on ``[B, C, H, W]``) in ``__init__``.

    ``image_size`` is fixed (the flows' masks or fully connected layers depend on it).
    """

    flow: Flow  # set by the subclass
    n_classes = None  # unconditional; the attribute the image task and demos look at

    def __init__(self, name: str, in_channels: int, image_size: int, n_bits: int) -> None:
        super().__init__()
        self.name = name
        self.in_channels = in_channels
        self.image_size = image_size
        self.n_bits = check_n_bits(n_bits)

    def _check(self, x: Tensor, y: object, what: str = "input") -> None:
        if y is not None:
            raise WaveflowError(f"{self.name}: labels were given but the model is unconditional")
        c, s = self.in_channels, self.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise WaveflowError(
                f"{self.name}: expected {what} of shape [B, {c}, {s}, {s}], got {list(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise WaveflowError(f"{self.name}: {what} contains NaN or inf")

    def forward(
        self, x: Tensor, y: Tensor | None = None, with_logits: bool = False
    ) -> tuple[Tensor, Tensor]:
        """``x [B, C, H, W] -> (z [B, C, H, W], logdet [B])``."""
        self._check(x, y)
        return self.flow(x)

    def inverse(self, z: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``z [B, C, H, W] -> (x, logdet [B])`` (log-det of the inverse map)."""
        self._check(z, y, "latent")
        return self.flow.inverse(z)

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact ``log p(x)`` in nats per image ``[B]`` (density on ``[-0.5, 0.5]^D``)."""
        z, logdet = self(x, y)
        return self.flow.latent_log_prob(z, logdet)

    def dequantize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, log q = 0)``: these models keep the data's uniform dequantisation."""
        return x, uniform_log_q(x)

    def bits_per_dim(self, x: Tensor, y: Tensor | None = None, n_bits: int | None = None) -> Tensor:
        """Bits/dim ``[B]`` of dequantised images (see :mod:`waveflow.image.pixels`)."""
        return bits_per_dim(self.log_prob(x, y), math.prod(x.shape[1:]), n_bits or self.n_bits)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self(x, y)[0]

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.inverse(z, y)[0]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        y: Tensor | None = None,
        generator: torch.Generator | None = None,
        image_size: int | None = None,
    ) -> Tensor:
        """``n`` images ``[n, C, S, S]`` (model space, not clamped) from latents drawn from the
        base at ``temperature`` (its scale ``sigma``); 0 gives the mode."""
        if image_size not in (None, self.image_size):
            raise WaveflowError(f"{self.name}.sample: the model only has size {self.image_size}")
        if n <= 0:
            raise WaveflowError(f"{self.name}.sample: n must be > 0, got {n}")
        shape = (n, self.in_channels, self.image_size, self.image_size)
        return self.decode(self.flow.sample_latent(shape, temperature, generator), y)

    @torch.no_grad()
    def initialize(self, x: Tensor, y: Tensor | None = None) -> None:
        """Data-dependent initialisation (ActNorm layers) from the batch ``x``."""
        self(x, y)
