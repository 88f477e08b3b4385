"""Monotonic rational-quadratic splines (Neural Spline Flows, Durkan et al. 2019).

A spline with ``K`` bins maps the interval ``[-bound, bound]`` onto itself through ``K``
rational-quadratic pieces. Each element carries its own unnormalised parameters, the last dim
of ``params`` (``P`` values per element):

* ``params[..., :K]``: bin widths (softmax, then at least ``MIN_BIN_SIZE`` of the interval),
* ``params[..., K:2K]``: bin heights (same),
* ``params[..., 2K:]``: derivatives at the knots, ``MIN_DERIVATIVE + softplus(u + c)`` with
  ``c`` chosen so that ``u = 0`` gives slope 1.

With ``tails="linear"`` the two boundary derivatives are fixed to 1 and the map is the
identity outside the interval (``P = 3K - 1``); with ``tails="none"`` all ``K + 1`` knot
derivatives are learned (``P = 3K + 1``) and inputs outside the interval are an error. All-zero
parameters give the identity, so a spline fed by a zero-initialised network starts as the
identity map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors.base import logdet_dtype, sum_per_sample

TAILS = ("linear", "none")
MIN_BIN_SIZE = 1e-3
MIN_DERIVATIVE = 1e-3
UNIT_SLOPE = math.log(math.expm1(1 - MIN_DERIVATIVE))  # softplus(UNIT_SLOPE) + MIN = 1


def check_spline_options(num_bins: int, bound: float, tails: str, owner: str) -> None:
    """ValueError naming ``owner`` and the option unless ``num_bins >= 1``, ``bound > 0`` finite
    and ``tails`` is one of :data:`TAILS`."""
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
        raise ValueError(f"{owner}: num_bins must be a positive integer, got {num_bins!r}")
    if num_bins * MIN_BIN_SIZE >= 1:
        raise ValueError(
            f"{owner}: num_bins must be < {round(1 / MIN_BIN_SIZE)} (minimum bin size "
            f"{MIN_BIN_SIZE}), got {num_bins}"
        )
    if not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound <= 0:
        raise ValueError(f"{owner}: bound (the interval's half width) must be > 0, got {bound!r}")
    if tails not in TAILS:
        raise ValueError(f"{owner}: tails must be one of {list(TAILS)}, got {tails!r}")


def spline_params_per_dim(num_bins: int, tails: str) -> int:
    """Unnormalised parameters per transformed element: ``3K - 1`` (linear tails) or ``3K + 1``."""
    return 3 * num_bins - 1 if tails == "linear" else 3 * num_bins + 1


def _knots(unnormalised: Tensor, bound: float) -> tuple[Tensor, Tensor]:
    """Softmax bin sizes -> (knot positions ``[..., K + 1]`` from -bound to bound, sizes)."""
    num_bins = unnormalised.shape[-1]
    sizes = MIN_BIN_SIZE + (1 - MIN_BIN_SIZE * num_bins) * torch.softmax(unnormalised, dim=-1)
    knots = F.pad(torch.cumsum(sizes, dim=-1), (1, 0))
    knots = 2 * bound * knots - bound
    knots = torch.cat([torch.full_like(knots[..., :1], -bound), knots[..., 1:-1],
                       torch.full_like(knots[..., :1], bound)], dim=-1)  # fmt: skip
    return knots, knots[..., 1:] - knots[..., :-1]


def _gather(t: Tensor, index: Tensor) -> Tensor:
    return t.gather(-1, index).squeeze(-1)


def rational_quadratic_spline(
    x: Tensor,
    params: Tensor,
    bound: float = 3.0,
    tails: str = "linear",
    inverse: bool = False,
    owner: str = "spline",
) -> tuple[Tensor, Tensor]:
    """Apply the spline (or its inverse) elementwise: ``x [...]``, ``params [..., P]`` ->
    ``(y [...], log|dy/dx| [...])`` (elementwise log-derivative of the map applied).

    ``P`` must be :func:`spline_params_per_dim` of some ``K``; see the module docstring for the
    layout. With ``tails="none"`` an input outside ``[-bound, bound]`` raises a ValueError
    naming ``owner``.
    """
    if params.shape[:-1] != x.shape:
        raise ValueError(
            f"{owner}: spline params of shape {list(params.shape)} do not match input "
            f"{list(x.shape)} (expected [..., P] over the input's shape)"
        )
    extra = 1 if tails == "none" else -1
    num_bins = (params.shape[-1] - extra) // 3
    if num_bins < 1 or 3 * num_bins + extra != params.shape[-1]:
        raise ValueError(f"{owner}: {params.shape[-1]} spline params per element fit no bin count")
    inside = (x >= -bound) & (x <= bound)
    if tails == "none" and not bool(inside.all()):
        raise ValueError(
            f"{owner}: input outside the spline interval [-{bound}, {bound}] with tails: none "
            f"(got values in [{float(x.min()):.4g}, {float(x.max()):.4g}]); use tails: linear"
        )
    widths_u = params[..., :num_bins]
    heights_u = params[..., num_bins : 2 * num_bins]
    slopes_u = params[..., 2 * num_bins :]
    if tails == "linear":
        slopes_u = F.pad(slopes_u, (1, 1))  # boundary slopes 1: the tails' slope
    slopes = MIN_DERIVATIVE + F.softplus(slopes_u + UNIT_SLOPE)
    xs, widths = _knots(widths_u, bound)
    ys, heights = _knots(heights_u, bound)

    u = x.clamp(-bound, bound)
    knots = ys if inverse else xs
    edges = torch.cat([knots[..., :-1], knots[..., -1:] + 1e-6 * bound], dim=-1)
    index = ((u.unsqueeze(-1) >= edges).sum(-1, keepdim=True) - 1).clamp(0, num_bins - 1)
    x_k, w_k = _gather(xs, index), _gather(widths, index)
    y_k, h_k = _gather(ys, index), _gather(heights, index)
    d_k, d_k1 = _gather(slopes[..., :-1], index), _gather(slopes[..., 1:], index)
    s_k = h_k / w_k
    slope_sum = d_k + d_k1 - 2 * s_k
    if inverse:
        dy = u - y_k
        a = dy * slope_sum + h_k * (s_k - d_k)
        b = h_k * d_k - dy * slope_sum
        c = -s_k * dy
        discriminant = (b.pow(2) - 4 * a * c).clamp_min(0)
        theta = (2 * c) / (-b - discriminant.sqrt())
        out = theta * w_k + x_k
    else:
        theta = (u - x_k) / w_k
    one_minus = theta * (1 - theta)
    denominator = s_k + slope_sum * one_minus
    if not inverse:
        out = y_k + h_k * (s_k * theta.pow(2) + d_k * one_minus) / denominator
    derivative = s_k.pow(2) * (d_k1 * theta.pow(2) + 2 * s_k * one_minus + d_k * (1 - theta).pow(2))
    log_derivative = torch.log(derivative) - 2 * torch.log(denominator)
    if inverse:
        log_derivative = -log_derivative
    y = torch.where(inside, out, x)
    return y, torch.where(inside, log_derivative, torch.zeros_like(log_derivative))


class RationalQuadraticSpline(nn.Module):
    """The elementwise spline as a module holding its options (bins, bound, tails).

    ``forward(x [B, n, *trailing], h [B, n, P, *trailing], inverse=False) -> (y, logdet [B])``
    where ``h`` holds each element's unnormalised parameters (see
    :func:`rational_quadratic_spline`) and ``logdet`` sums the elementwise log-derivatives.
    """

    def __init__(
        self, num_bins: int = 8, bound: float = 3.0, tails: str = "linear", owner: str = "spline"
    ) -> None:
        super().__init__()
        check_spline_options(num_bins, bound, tails, owner)
        self.num_bins = num_bins
        self.bound = float(bound)
        self.tails = tails
        self.owner = owner

    @property
    def params_per_dim(self) -> int:
        return spline_params_per_dim(self.num_bins, self.tails)

    def forward(self, x: Tensor, h: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
        params = h.movedim(2, -1)
        y, log_derivative = rational_quadratic_spline(
            x, params, self.bound, self.tails, inverse, self.owner
        )
        return y, sum_per_sample(log_derivative, logdet_dtype(x))

    def extra_repr(self) -> str:
        return f"num_bins={self.num_bins}, bound={self.bound}, tails={self.tails!r}"
