"""A learned diagonal Gaussian mixture base distribution."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import logdet_dtype
from waveflow.bijectors.gaussian import check_sigma


def diagonal_gaussian_log_prob(z: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Elementwise ``log N(z; mean, exp(log_std)^2)`` (broadcasting)."""
    return -0.5 * ((z - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)


def check_event(owner: str, z: Tensor, event_shape: tuple[int, ...]) -> None:
    if tuple(z.shape[1:]) != event_shape:
        raise ValueError(
            f"{owner}: expected latents of shape [B, {', '.join(map(str, event_shape))}], "
            f"got {list(z.shape)}"
        )


class GaussianMixture(nn.Module):
    """``p(z) = sum_k pi_k N(z; mu_k, diag(sigma_k^2))`` over ``z [B, *event_shape]``.

    Learned logits ``[K]``, means and log-stds ``[K, *event_shape]``; the means start as a
    draw from ``N(0, init_spread^2)`` (``seed`` makes it reproducible), the stds at 1, the
    weights uniform. Same interface as :class:`~waveflow.bijectors.gaussian.Gaussian`: the
    temperature ``sigma`` multiplies every component's std (``log_prob`` is then the tempered
    mixture's exact density). ``cond`` is accepted and ignored.
    """

    def __init__(
        self,
        n_components: int,
        event_shape: tuple[int, ...] | int,
        init_spread: float = 1.0,
        seed: int | None = 0,
        sigma: float = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
            raise ValueError(
                f"GaussianMixture: n_components must be a positive integer, got {n_components!r}"
            )
        event_shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        self.event_shape = event_shape
        self.sigma = check_sigma(sigma, allow_zero=False, owner="GaussianMixture")
        self.logits = nn.Parameter(torch.zeros(n_components))
        self.means = nn.Parameter(
            init_spread * torch.randn(n_components, *event_shape, generator=generator)
        )
        self.log_stds = nn.Parameter(torch.zeros(n_components, *event_shape))

    @property
    def n_components(self) -> int:
        return self.logits.shape[0]

    def log_prob(self, z: Tensor, sigma: float | None = None, cond: Tensor | None = None) -> Tensor:
        """Per-sample log-density ``[B]`` (float32; float64 for float64 input)."""
        check_event("GaussianMixture", z, self.event_shape)
        s = self.sigma if sigma is None else check_sigma(sigma, False, "GaussianMixture")
        dtype = logdet_dtype(z)
        z = z.to(dtype).unsqueeze(1)  # [B, 1, *event]
        log_std = self.log_stds.to(dtype) + math.log(s)
        per_component = diagonal_gaussian_log_prob(z, self.means.to(dtype), log_std)
        per_component = per_component.reshape(*per_component.shape[:2], -1).sum(-1)  # [B, K]
        log_weights = torch.log_softmax(self.logits.to(dtype), dim=0)
        return torch.logsumexp(per_component + log_weights, dim=1)

    def sample(
        self,
        shape: tuple[int, ...] | torch.Size,
        sigma: float | None = None,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """``z`` of ``shape`` (``[n, *event_shape]``): a component per sample, then its Gaussian
        with the std times ``sigma`` (``sigma=0``: the chosen component's mean)."""
        if tuple(shape[1:]) != self.event_shape:
            raise ValueError(
                f"GaussianMixture: cannot sample shape {list(shape)}; event shape is "
                f"{list(self.event_shape)}"
            )
        s = self.sigma if sigma is None else check_sigma(sigma, True, "GaussianMixture")
        dtype = dtype or torch.float32
        probs = torch.softmax(self.logits.detach().float(), 0).to(device)
        index = torch.multinomial(probs, shape[0], replacement=True, generator=generator)
        eps = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        means = self.means.detach().to(device, dtype)[index]
        stds = self.log_stds.detach().to(device, dtype)[index].exp()
        return means + s * stds * eps
