"""Rational-quadratic splines, spline coupling, MADE and masked autoregressive flows (float64)."""

from __future__ import annotations

import pytest
import torch
from flow_checks import assert_bijective
from tiny_nets import COND_CHANNELS, TinyNet
from torch import nn

from waveflow.bijectors import (
    MADE,
    Inverse,
    MaskedAutoregressive,
    SplineCoupling,
    rational_quadratic_spline,
    spline_net_channels,
    spline_params_per_dim,
)


def randomize(module: nn.Module, scale: float = 0.5, seed: int = 0) -> nn.Module:
    """Non-trivial parameters (zero-initialised output layers would make every test an identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


@pytest.mark.parametrize("tails", ["linear", "none"])
def test_spline_is_monotonic_exact_and_maps_the_interval_onto_itself(tails):
    torch.manual_seed(0)
    bins = 5
    x = torch.linspace(-2.999, 2.999, 400, dtype=torch.float64)
    params = torch.randn(400, spline_params_per_dim(bins, tails), dtype=torch.float64)
    params[:] = params[0]  # one spline over the whole grid
    x.requires_grad_(True)
    y, log_d = rational_quadratic_spline(x, params, bound=3.0, tails=tails)
    assert (y.diff() > 0).all()
    (slope,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(slope.log(), log_d.detach(), atol=1e-10, rtol=0)
    x, y, log_d = x.detach(), y.detach(), log_d.detach()
    ends, _ = rational_quadratic_spline(
        torch.tensor([-3.0, 3.0], dtype=torch.float64), params[:2], 3.0, tails
    )
    torch.testing.assert_close(ends, torch.tensor([-3.0, 3.0], dtype=torch.float64))
    back, inv_log_d = rational_quadratic_spline(y, params, 3.0, tails, inverse=True)
    torch.testing.assert_close(back, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(inv_log_d, -log_d, atol=1e-9, rtol=0)


def test_linear_tails_are_the_identity_outside_and_zero_params_everywhere():
    x = torch.tensor([-7.0, -3.5, 0.3, 4.0, 9.0], dtype=torch.float64)
    params = torch.randn(5, spline_params_per_dim(4, "linear"), dtype=torch.float64)
    y, log_d = rational_quadratic_spline(x, params, bound=3.0)
    outside = x.abs() > 3
    assert torch.equal(y[outside], x[outside]) and (log_d[outside] == 0).all()
    y0, log_d0 = rational_quadratic_spline(x, torch.zeros_like(params), bound=3.0)
    torch.testing.assert_close(y0, x, atol=1e-12, rtol=0)
    torch.testing.assert_close(log_d0, torch.zeros_like(x), atol=1e-12, rtol=0)


def coupling(channels: int, spatial_dims: int, keep: str, tails: str = "linear") -> SplineCoupling:
    bins = 4
    kept = channels // 2 if keep == "first" else channels - channels // 2
    out = spline_net_channels(channels, bins, tails) if keep == "first" else (
        (channels // 2) * spline_params_per_dim(bins, tails))  # fmt: skip
    net = TinyNet(kept, out, spatial_dims)
    return SplineCoupling(channels, net, num_bins=bins, bound=2.0, tails=tails, keep=keep)


@pytest.mark.parametrize("spatial_dims", [1, 2])
@pytest.mark.parametrize("keep", ["first", "second"])
@pytest.mark.parametrize("with_cond", [False, True])
def test_spline_coupling_is_exact(spatial_dims, keep, with_cond):
    torch.manual_seed(1)
    layer = randomize(coupling(5, spatial_dims, keep), 0.8).double()
    shape = (2, 5, 6) if spatial_dims == 1 else (2, 5, 3, 3)
    x = 1.5 * torch.randn(shape, dtype=torch.float64)  # some entries in the linear tails
    assert (x.abs() > 2.0).any() and (x.abs() < 2.0).any()
    cond = torch.randn(2, COND_CHANNELS, *shape[2:], dtype=torch.float64) if with_cond else None
    assert_bijective(layer, x, cond)
    if with_cond:
        assert not torch.allclose(layer(x, cond)[0], layer(x, cond + 1.0)[0])


def test_spline_coupling_without_tails_is_exact_inside_and_refuses_outside():
    layer = randomize(coupling(4, 1, "first", tails="none"), 0.8).double()
    x = torch.rand(2, 4, 5, dtype=torch.float64) * 3.8 - 1.9
    assert_bijective(layer, x)
    with pytest.raises(ValueError, match=r"SplineCoupling: input outside the spline interval "
                       r"\[-2.0, 2.0\] with tails: none"):  # fmt: skip
        layer(x * 2)


def test_inverse_wrapper_swaps_directions_and_logdets():
    layer = randomize(coupling(4, 1, "first"), 0.8).double()
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    flipped = Inverse(layer)
    y, logdet = layer.inverse(x)
    y2, logdet2 = flipped(x)
    assert torch.equal(y, y2) and torch.equal(logdet, logdet2)
    assert_bijective(flipped, x)


@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(num_bins=0), "SplineCoupling: num_bins must be a positive integer, got 0"),
        (dict(num_bins=-3), "SplineCoupling: num_bins must be a positive integer, got -3"),
        (dict(num_bins=2.5), "SplineCoupling: num_bins must be a positive integer, got 2.5"),
        (
            dict(bound=0.0),
            r"SplineCoupling: bound \(the interval's half width\) must be > 0, "
            "got 0.0",
        ),
        (dict(bound=-1), r"SplineCoupling: bound .* must be > 0, got -1"),
        (dict(tails="quadratic"), "SplineCoupling: tails must be one of"),
    ],
)
def test_bad_spline_options_are_one_line_errors(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        SplineCoupling(4, nn.Identity(), **bad)
    assert "\n" not in str(info.value)


def test_spline_coupling_names_a_wrong_net_output():
    layer = SplineCoupling(4, TinyNet(2, 7, 1), num_bins=4)
    with pytest.raises(ValueError, match=r"SplineCoupling: net returned shape \[2, 7, 5\], "
                       r"expected \[2, 22, 5\]"):  # fmt: skip
        layer(torch.randn(2, 4, 5))


def test_made_outputs_depend_only_on_earlier_features():
    made = randomize(MADE(5, 3, hidden_features=16, n_hidden_layers=2, cond_features=2))
    made = made.double()
    x = torch.randn(1, 5, dtype=torch.float64)
    cond = torch.randn(1, 2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: made(v, cond), x)[0, :, :, 0, :]
    # jac[i, p, j] = d out[i, p] / d x[j]: zero unless j < i, and nonzero somewhere below.
    dependence = jac.abs().sum(1) > 0
    assert torch.equal(dependence, torch.ones(5, 5, dtype=torch.bool).tril(-1))
    assert torch.autograd.functional.jacobian(lambda c: made(x, c), cond).abs().sum() > 0


@pytest.mark.parametrize("transform", ["affine", "spline"])
@pytest.mark.parametrize("with_cond", [False, True])
def test_masked_autoregressive_is_exact(transform, with_cond):
    torch.manual_seed(2)
    layer = MaskedAutoregressive(
        4, hidden_features=12, cond_features=3 if with_cond else 0, transform=transform,
        num_bins=5, bound=2.0,
    )  # fmt: skip
    layer = randomize(layer, 0.4).double()
    x = 1.5 * torch.randn(3, 4, dtype=torch.float64)
    cond = torch.randn(3, 3, dtype=torch.float64) if with_cond else None
    assert_bijective(layer, x, cond)
    if with_cond:
        assert not torch.allclose(layer(x, cond)[0], layer(x, cond + 1.0)[0])


def test_a_fresh_masked_autoregressive_layer_is_the_identity():
    for transform in ("affine", "spline"):
        layer = MaskedAutoregressive(3, transform=transform, scale="affine")
        x = torch.randn(4, 3)
        y, logdet = layer(x)
        torch.testing.assert_close(y, x, atol=1e-6, rtol=0)
        torch.testing.assert_close(logdet, torch.zeros(4), atol=1e-5, rtol=0)


def test_masked_autoregressive_errors_name_the_option():
    with pytest.raises(ValueError, match="MaskedAutoregressive: transform must be one of"):
        MaskedAutoregressive(3, transform="quadratic")
    with pytest.raises(ValueError, match="MaskedAutoregressive: num_bins must be a positive "
                       "integer, got 0"):  # fmt: skip
        MaskedAutoregressive(3, transform="spline", num_bins=0)
    with pytest.raises(ValueError, match=r"expected input of shape \[B, 3\], got \[2, 4\]"):
        MaskedAutoregressive(3)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="MADE: this network needs a cond vector"):
        MaskedAutoregressive(3, cond_features=2)(torch.zeros(2, 3))
