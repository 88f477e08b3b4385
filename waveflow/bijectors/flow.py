"""A normalizing flow: a bijector from data to latent plus a base distribution.

Every base distribution has the same interface: ``log_prob(z, sigma=None, cond=None) -> [B]``
(exact, in nats) and ``sample(shape, sigma=None, *, generator, device, dtype, cond=None)``,
where ``sigma`` is the sampling temperature and ``cond`` the flow's conditioning input (used by
the class-conditional Gaussian, ignored by the others).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector
from waveflow.bijectors.class_gaussian import ClassConditionalGaussian
from waveflow.bijectors.gaussian import Gaussian
from waveflow.bijectors.logistic import Logistic
from waveflow.bijectors.mixture import GaussianMixture
from waveflow.bijectors.uniform import Uniform

BASES = ("gaussian", "logistic", "mixture")
Base = Gaussian | Logistic | GaussianMixture | ClassConditionalGaussian | Uniform


def base_distribution(
    name: str,
    sigma: float = 1.0,
    event_shape: tuple[int, ...] | None = None,
    n_components: int | None = None,
) -> Base:
    """The base of a config's ``prior`` option: ``"gaussian"`` -> :class:`Gaussian`,
    ``"logistic"`` -> :class:`Logistic` (scale ``sigma``), ``"mixture"`` ->
    :class:`GaussianMixture` of ``n_components`` over latents ``[B, *event_shape]``."""
    if name not in BASES:
        raise ValueError(f"base distribution must be one of {list(BASES)}, got {name!r}")
    if name == "mixture":
        if event_shape is None:
            raise ValueError("base distribution 'mixture' needs the latent's event_shape")
        return GaussianMixture(n_components, event_shape, sigma=sigma)
    return Gaussian(sigma) if name == "gaussian" else Logistic(sigma)


class Flow(nn.Module):
    """``log p(x | cond) = log p_base(f(x)) + log|det df/dx|`` with ``f = transform``.

    ``base`` is :class:`Gaussian` ``N(0, sigma^2)`` (default) or any base of the same
    interface (see the module docstring); ``cond`` goes to both the transform and the base.

    ``forward``/``inverse`` follow the bijector contract; ``log_prob`` is the exact
    log-likelihood in nats per sample ``[B]``; ``sample`` draws latents of a given shape at a
    temperature ``sigma`` and runs the inverse.
    """

    def __init__(self, transform: Bijector, base: Base | None = None) -> None:
        super().__init__()
        self.transform = transform
        self.base = base if base is not None else Gaussian()

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.transform(x, cond)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.transform.inverse(z, cond)

    def log_prob(self, x: Tensor, cond: Tensor | None = None, sigma: float | None = None) -> Tensor:
        z, logdet = self.transform(x, cond)
        return self.latent_log_prob(z, logdet, sigma, cond)

    def latent_log_prob(
        self, z: Tensor, logdet: Tensor, sigma: float | None = None, cond: Tensor | None = None
    ) -> Tensor:
        """``log p(x)`` ``[B]`` from a forward pass's ``(z, logdet)`` (for callers that also need
        ``z``, e.g. a classifier on the latent); computed in at least float32."""
        dtype = torch.promote_types(z.dtype, torch.float32)
        return self.base.log_prob(z.to(dtype), sigma, cond=cond) + logdet.to(dtype)

    def sample_latent(
        self,
        shape: tuple[int, ...],
        sigma: float | None = None,
        generator: torch.Generator | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """Latents of ``shape`` drawn from the base at temperature ``sigma``, on the flow's
        device and in its parameters' dtype (for callers that run the inverse themselves,
        e.g. in chunks)."""
        param = next(self.parameters(), None)
        device = param.device if param is not None else None
        dtype = param.dtype if param is not None else None
        return self.base.sample(
            shape, sigma, generator=generator, device=device, dtype=dtype, cond=cond
        )

    @torch.no_grad()
    def sample(
        self,
        shape: tuple[int, ...],
        cond: Tensor | None = None,
        sigma: float | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Samples ``x`` whose latent has ``shape`` (``[B, C, *trailing]``)."""
        return self.transform.inverse(self.sample_latent(shape, sigma, generator, cond), cond)[0]
