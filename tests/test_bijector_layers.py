"""Layer-specific behaviour of the core: caches, initialisation, parametrisations, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    Chain,
    Flow,
    Gaussian,
    InvertibleConv1x1,
    Split,
    Squeeze,
)


class ZeroNet(nn.Module):
    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels

    def forward(self, x, cond=None):
        return x.new_zeros(x.shape[0], self.out_channels, *x.shape[2:])


# --- invertible 1x1 convolution -------------------------------------------------------------


@pytest.mark.parametrize("lu", [False, True], ids=["dense", "lu"])
def test_initial_weight_is_a_rotation_with_det_plus_one(lu):
    torch.manual_seed(0)
    w = InvertibleConv1x1(6, lu=lu).matrix().detach().double()
    torch.testing.assert_close(w @ w.T, torch.eye(6, dtype=torch.float64), atol=1e-5, rtol=0)
    assert torch.linalg.det(w).item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("lu", [False, True], ids=["dense", "lu"])
def test_inverse_cache_is_invalidated_by_an_optimizer_step(lu):
    torch.manual_seed(0)
    layer = InvertibleConv1x1(4, lu=lu).double()
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    with torch.no_grad():
        stale = layer.inverse_matrix().clone()  # fills the cache
        assert layer.inverse_matrix() is layer.inverse_matrix()  # served from the cache
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.01)
    y, logdet = layer(x)
    (y.pow(2).sum() - logdet.sum()).backward()
    optimizer.step()
    with torch.no_grad():
        fresh = layer.inverse_matrix()
        assert not torch.allclose(fresh, stale)
        torch.testing.assert_close(fresh @ layer.matrix(), torch.eye(4, dtype=torch.float64))
        back, _ = layer.inverse(layer(x)[0])
    torch.testing.assert_close(back, x, atol=1e-10, rtol=0)


@pytest.mark.parametrize("lu", [False, True], ids=["dense", "lu"])
def test_inverse_cache_is_invalidated_by_load_state_dict_and_to(lu):
    torch.manual_seed(0)
    a, b = InvertibleConv1x1(4, lu=lu), InvertibleConv1x1(4, lu=lu)
    with torch.no_grad():
        b.inverse_matrix()  # cache b's own inverse
        b.load_state_dict(a.state_dict())
        torch.testing.assert_close(b.inverse_matrix(), a.inverse_matrix())
        b64 = b.to(torch.float64)
        assert b64.inverse_matrix().dtype == torch.float64
        torch.testing.assert_close(
            b64.inverse_matrix() @ b64.matrix(), torch.eye(4, dtype=torch.float64)
        )


@pytest.mark.parametrize("lu", [False, True], ids=["dense", "lu"])
def test_inverse_cache_in_inference_mode(lu):
    """A layer built outside ``inference_mode`` is cached inside it and follows an in-place
    change made inside it; one built inside it (inference-tensor parameters, no version
    counter) is never served stale: it is not cached."""
    torch.manual_seed(0)
    layer = InvertibleConv1x1(4, lu=lu)
    with torch.inference_mode():
        assert layer.inverse_matrix() is layer.inverse_matrix()
        layer.set_matrix(torch.linalg.qr(torch.randn(4, 4))[0])
        torch.testing.assert_close(layer.inverse_matrix() @ layer.matrix(), torch.eye(4))
        built_inside = InvertibleConv1x1(4, lu=lu)
        built_inside.inverse_matrix()
        built_inside.set_matrix(2 * torch.eye(4))
        torch.testing.assert_close(built_inside.inverse_matrix(), torch.eye(4) / 2)


def test_dense_and_lu_agree_on_the_same_matrix():
    torch.manual_seed(0)
    matrix = torch.randn(5, 5, dtype=torch.float64)  # generic, det of either sign
    dense = InvertibleConv1x1.from_matrix(matrix, lu=False).double()
    lu = InvertibleConv1x1.from_matrix(matrix, lu=True).double()
    torch.testing.assert_close(lu.matrix(), matrix)
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64)
    (yd, ld), (yl, ll) = dense(x), lu(x)
    torch.testing.assert_close(yd, yl)
    torch.testing.assert_close(ld, ll)
    expected = 16 * torch.linalg.slogdet(matrix)[1]
    torch.testing.assert_close(ld, expected.expand(3))


def test_conv1x1_logdet_is_float32_under_autocast():
    torch.manual_seed(0)
    layer = InvertibleConv1x1(8)
    x = torch.randn(2, 8, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, logdet = layer(x)
    assert y.dtype == torch.bfloat16
    assert logdet.dtype == torch.float32
    torch.testing.assert_close(logdet, layer(x)[1])


# --- ActNorm --------------------------------------------------------------------------------


def test_actnorm_initialises_from_the_first_batch():
    torch.manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(16, 3, 50)
    layer = ActNorm(3)
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(0, 2), unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    assert bool(layer.initialized)
    params = [p.clone() for p in layer.parameters()]
    layer(5.0 * x)  # a second batch must not re-initialise
    for before, after in zip(params, layer.parameters(), strict=True):
        torch.testing.assert_close(before, after)


def test_actnorm_does_not_reinitialise_after_load_state_dict():
    torch.manual_seed(0)
    trained = ActNorm(3)
    trained(torch.randn(8, 3, 10) * 4 + 1)
    reloaded = ActNorm(3)
    reloaded.load_state_dict(trained.state_dict())
    assert bool(reloaded.initialized)
    other = torch.randn(8, 3, 10) - 7
    torch.testing.assert_close(reloaded(other)[0], trained(other)[0])


# --- Flow and Gaussian ----------------------------------------------------------------------


def test_gaussian_log_prob_matches_torch_distributions():
    z = torch.randn(4, 3, 5, dtype=torch.float64)
    for sigma in (1.0, 0.6):
        expected = torch.distributions.Normal(0.0, sigma).log_prob(z).sum(dim=(1, 2))
        torch.testing.assert_close(Gaussian(sigma).log_prob(z), expected)
        torch.testing.assert_close(Gaussian().log_prob(z, sigma=sigma), expected)


def test_gaussian_sampling_temperature():
    base = Gaussian()
    assert torch.count_nonzero(base.sample((3, 4), sigma=0.0)) == 0
    g = torch.Generator().manual_seed(0)
    z = base.sample((200_000,), sigma=0.7, generator=g)
    assert z.std().item() == pytest.approx(0.7, rel=0.01)
    with pytest.raises(ValueError, match="sigma"):
        base.log_prob(z, sigma=0.0)


def test_flow_log_prob_is_the_change_of_variables():
    """An ActNorm flow is the Gaussian N(-bias, exp(-log_scale)^2): compare densities."""
    torch.manual_seed(0)
    layer = ActNorm(2).double()
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.5, -1.0]))
        layer.log_scale.copy_(torch.tensor([0.3, -0.2]))
        layer.initialized.fill_(True)
    flow = Flow(layer, Gaussian(0.8))
    x = torch.randn(5, 2, 7, dtype=torch.float64)
    mean = (-layer.bias).view(1, 2, 1)
    std = (0.8 * torch.exp(-layer.log_scale)).view(1, 2, 1)
    expected = torch.distributions.Normal(mean, std).log_prob(x).sum(dim=(1, 2))
    torch.testing.assert_close(flow.log_prob(x), expected.detach())
    sample = flow.sample((4, 2, 7), sigma=0.0)
    torch.testing.assert_close(sample, mean.expand(4, 2, 7).detach())


# --- bad input ------------------------------------------------------------------------------


def test_channel_mismatch_names_layer_and_shapes():
    expected = r"InvertibleConv1x1: expected .*\[B, 4, \.\.\.\].*\[2, 3, 8\]"
    with pytest.raises(ValueError, match=expected):
        InvertibleConv1x1(4)(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match=r"ActNorm: expected .*\[B, 4"):
        ActNorm(4)(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"AffineCoupling: expected .*\[B, 4"):
        AffineCoupling(4, ZeroNet(4))(torch.randn(2, 6, 8))
    with pytest.raises(ValueError, match=r"Split: expected .*\[B, 4"):
        Split(4, 2)(torch.randn(2, 6, 8))


def test_odd_channel_count_for_coupling_is_rejected():
    with pytest.raises(ValueError, match="AffineCoupling: num_channels must be even.*got 5"):
        AffineCoupling(5, ZeroNet(5))


def test_wrong_net_output_is_reported():
    expected = r"AffineCoupling: net returned shape \[2, 2, 8\], expected"
    with pytest.raises(ValueError, match=expected):
        AffineCoupling(4, ZeroNet(2), mode="affine")(torch.randn(2, 4, 8))


def test_length_not_divisible_by_squeeze_factor():
    with pytest.raises(ValueError, match=r"Squeeze\(factor=8, spatial_dims=1\).*\[1, 1, 1001\]"):
        Squeeze(8, spatial_dims=1)(torch.randn(1, 1, 1001))
    with pytest.raises(ValueError, match=r"Squeeze\(factor=2, spatial_dims=2\).*\[1, 3, 5, 4\]"):
        Squeeze(2, spatial_dims=2)(torch.randn(1, 3, 5, 4))
    with pytest.raises(ValueError, match=r"expected input \[B, C, H, W\], got \[1, 3, 8\]"):
        Squeeze(2, spatial_dims=2)(torch.randn(1, 3, 8))


def test_split_rejects_shape_changing_inner():
    layer = Split(4, 2, inner=Squeeze(2, spatial_dims=1))
    with pytest.raises(ValueError, match="Split: inner bijector must preserve"):
        layer(torch.randn(1, 4, 8))


def test_chain_of_nothing_is_identity():
    x = torch.randn(2, 3, 4)
    y, logdet = Chain()(x)
    assert torch.equal(x, y) and torch.equal(logdet, torch.zeros(2))
    log_density_at_mode = float(Gaussian().log_prob(torch.zeros(1, 1)))
    assert math.isclose(log_density_at_mode, -0.5 * math.log(2 * math.pi), rel_tol=1e-6)
