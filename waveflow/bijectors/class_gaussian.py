"""A class-conditional diagonal Gaussian base distribution: one learned mean and std per class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors.base import logdet_dtype, sum_per_sample
from waveflow.bijectors.gaussian import check_sigma
from waveflow.bijectors.mixture import check_event, diagonal_gaussian_log_prob


class ClassConditionalGaussian(nn.Module):
    """``p(z | y) = N(z; mu_y, diag(sigma_y^2))`` over ``z [B, *event_shape]``.

    ``cond`` is the class: integer labels ``[B]`` in ``[0, n_classes)`` or a (one-hot or soft)
    ``[B, n_classes]`` float matrix, which mixes the per-class mean and log-std linearly. Means
    and log-stds start at 0 (every class is ``N(0, I)`` until trained). ``sigma`` (temperature)
    multiplies the std, as for :class:`~waveflow.bijectors.gaussian.Gaussian`.
    """

    def __init__(self, n_classes: int, event_shape: tuple[int, ...] | int, sigma: float = 1.0):
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
            raise ValueError(
                f"ClassConditionalGaussian: n_classes must be a positive integer, got {n_classes!r}"
            )
        event_shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
        self.event_shape = event_shape
        self.n_classes = n_classes
        self.sigma = check_sigma(sigma, allow_zero=False, owner="ClassConditionalGaussian")
        self.means = nn.Parameter(torch.zeros(n_classes, *event_shape))
        self.log_stds = nn.Parameter(torch.zeros(n_classes, *event_shape))

    def _class_params(self, cond: Tensor | None, batch: int, dtype) -> tuple[Tensor, Tensor]:
        if cond is None:
            raise ValueError(
                "ClassConditionalGaussian: cond (the class of each sample) is required"
            )
        if not cond.dtype.is_floating_point:
            if cond.shape != (batch,) or ((cond < 0) | (cond >= self.n_classes)).any():
                raise ValueError(
                    f"ClassConditionalGaussian: labels must be [{batch}] integers in "
                    f"[0, {self.n_classes}), got shape {list(cond.shape)}"
                )
            cond = F.one_hot(cond.long(), self.n_classes)
        if cond.shape != (batch, self.n_classes):
            raise ValueError(
                f"ClassConditionalGaussian: cond must be [{batch}] labels or a "
                f"[{batch}, {self.n_classes}] matrix, got {list(cond.shape)}"
            )
        weights = cond.to(dtype)
        mean = (weights @ self.means.to(dtype).flatten(1)).view(batch, *self.event_shape)
        log_std = (weights @ self.log_stds.to(dtype).flatten(1)).view(batch, *self.event_shape)
        return mean, log_std

    def log_prob(self, z: Tensor, sigma: float | None = None, cond: Tensor | None = None) -> Tensor:
        """Per-sample ``log p(z | cond)`` ``[B]`` (float32; float64 for float64 input)."""
        check_event("ClassConditionalGaussian", z, self.event_shape)
        s = self.sigma if sigma is None else check_sigma(sigma, False, "ClassConditionalGaussian")
        dtype = logdet_dtype(z)
        mean, log_std = self._class_params(cond, z.shape[0], dtype)
        log_std = log_std + torch.log(torch.tensor(s, dtype=dtype))
        return sum_per_sample(diagonal_gaussian_log_prob(z.to(dtype), mean, log_std))

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
        """``z`` of ``shape`` for the classes in ``cond`` (std times ``sigma``)."""
        s = self.sigma if sigma is None else check_sigma(sigma, True, "ClassConditionalGaussian")
        dtype = dtype or torch.float32
        mean, log_std = self._class_params(cond, shape[0], dtype)
        eps = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        return mean.detach().to(device) + s * log_std.detach().to(device).exp() * eps
