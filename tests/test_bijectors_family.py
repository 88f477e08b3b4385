"""The core pieces NICE and RealNVP add: checkerboard masked coupling, tanh-bounded scales,
NICE's scaling layer, batch norm as a bijector, the logistic base, and [B, 2] vector data.

Exactness (round trip, log-det against the autograd Jacobian) in float64 via flow_checks.
"""

from __future__ import annotations

import math

import pytest
import torch
from flow_checks import assert_bijective
from tiny_nets import COND_CHANNELS, TinyNet
from torch import nn

from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    BatchNorm,
    Chain,
    Flow,
    InvertibleConv1x1,
    Logistic,
    MaskedCoupling,
    Reverse,
    Scale,
    Shuffle,
    checkerboard_mask,
)


class VectorNet(nn.Module):
    """``[B, n_in] -> [B, n_out]`` small MLP with a cond term (cond ``[B, COND_CHANNELS]``)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.a = nn.Linear(n_in, 8)
        self.b = nn.Linear(8, n_out)
        self.c = nn.Linear(COND_CHANNELS, n_out)

    def forward(self, x, cond=None):
        h = self.b(torch.tanh(self.a(x)))
        return h if cond is None else h + self.c(cond)


def _randomise(layer: nn.Module, generator: torch.Generator) -> nn.Module:
    """Non-trivial parameters everywhere (zero-initialised ones would hide log-det errors)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return layer


MASKED = [
    ("tanh", 0, 2), ("tanh", 1, 2), ("affine", 0, 2), ("sigmoid", 1, 2),
    ("additive", 0, 2), ("additive", 1, 2), ("tanh", 0, 1),
]  # fmt: skip


@pytest.mark.parametrize("with_cond", [False, True], ids=["nocond", "cond"])
@pytest.mark.parametrize("mode,parity,spatial_dims", MASKED)
def test_masked_coupling_is_exact(mode, parity, spatial_dims, with_cond):
    g = torch.Generator().manual_seed(1)
    c = 2
    if spatial_dims == 2:
        mask = checkerboard_mask(c, 4, 6, parity)
        x = torch.randn(3, c, 4, 6, generator=g, dtype=torch.float64)
    else:
        mask = (torch.arange(8) % 2 == parity).float().expand(c, 8).clone()
        x = torch.randn(3, c, 8, generator=g, dtype=torch.float64)
    out = c if mode == "additive" else 2 * c
    layer = _randomise(MaskedCoupling(mask, TinyNet(c, out, spatial_dims), mode=mode), g).double()
    cond = None
    if with_cond:
        cond = torch.randn(3, COND_CHANNELS, *x.shape[2:], generator=g, dtype=torch.float64)
    assert_bijective(layer, x, cond)
    y, _ = layer(x, cond)
    kept = mask.bool().expand_as(x)
    assert torch.equal(y[kept], x[kept])  # masked entries pass through unchanged
    assert not torch.allclose(y[~kept], x[~kept])


def test_checkerboard_mask_alternates_and_parities_complement():
    m0 = checkerboard_mask(3, 4, 5, 0)
    m1 = checkerboard_mask(3, 4, 5, 1)
    assert m0.shape == (3, 4, 5) and m0[0, 0, 0] == 1 and m0[0, 0, 1] == 0 and m0[0, 1, 0] == 0
    assert torch.equal(m0 + m1, torch.ones(3, 4, 5))
    assert torch.equal(m0[0], m0[2])


def test_masked_coupling_rejects_bad_masks_and_shapes():
    with pytest.raises(ValueError, match="0s and 1s"):
        MaskedCoupling(torch.full((1, 2, 2), 0.5), TinyNet(1, 2, 2))
    with pytest.raises(ValueError, match="keep some entries"):
        MaskedCoupling(torch.ones(1, 2, 2), TinyNet(1, 2, 2))
    layer = MaskedCoupling(checkerboard_mask(1, 4, 4), TinyNet(1, 2, 2))
    with pytest.raises(ValueError, match=r"MaskedCoupling: expected input of shape \[B, 1, 4, 4\]"):
        layer(torch.randn(2, 1, 6, 6))
    with pytest.raises(ValueError, match="mode must be one of"):
        MaskedCoupling(checkerboard_mask(1, 4, 4), TinyNet(1, 2, 2), mode="spline")


def test_tanh_scales_are_bounded_by_the_learned_bound():
    g = torch.Generator().manual_seed(0)

    class Huge(nn.Module):
        def forward(self, x, cond=None):
            return 100.0 * torch.cat([x, x], dim=1)

    layer = AffineCoupling(4, Huge(), mode="tanh")
    x = torch.randn(5, 4, 3, 3, generator=g)
    y, logdet = layer(x)
    ratio = (y[:, 2:] - 100.0 * x[:, :2]) / x[:, 2:]
    assert ratio.max() <= math.e * (1 + 1e-4) and ratio.min() >= math.exp(-1) * (1 - 1e-4)
    assert logdet.abs().max() <= 2 * 3 * 3 + 1e-4  # |log s| <= 1 per transformed entry
    with torch.no_grad():
        layer.params.tanh_bound.fill_(0.5)
    assert layer(x)[1].abs().max() <= 0.5 * 2 * 3 * 3 + 1e-4


@pytest.mark.parametrize("shape", [(1, 4, 4), (1,)], ids=["per_entry", "per_channel"])
def test_scale_layer_is_exact(shape):
    g = torch.Generator().manual_seed(2)
    layer = _randomise(Scale(shape), g).double()
    x = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    assert_bijective(layer, x)
    expected = layer.log_scale.sum() * (1 if len(shape) == 3 else 16)
    torch.testing.assert_close(layer(x)[1], expected.expand(3))


def test_scale_layer_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match=r"Scale: input \[2, 3\] does not start with \[B, 4"):
        Scale(4)(torch.randn(2, 3))


def test_batchnorm_in_eval_mode_is_exact_and_uses_running_statistics():
    g = torch.Generator().manual_seed(3)
    layer = BatchNorm(3).double()
    data = 2.0 + 3.0 * torch.randn(64, 3, 4, 4, generator=g, dtype=torch.float64)
    for _ in range(200):  # running averages converge to the data's statistics
        layer(data)
    torch.testing.assert_close(layer.running_mean, data.mean((0, 2, 3)), atol=1e-3, rtol=0)
    _randomise(layer, g)
    layer.eval()
    assert_bijective(layer, torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64))


def test_batchnorm_in_training_mode_standardises_the_batch_with_its_own_logdet():
    g = torch.Generator().manual_seed(4)
    layer = BatchNorm(2).double()
    x = torch.tensor([5.0, -1.0]).view(1, 2, 1) + torch.randn(
        16, 2, 5, generator=g, dtype=torch.float64
    ) * torch.tensor([0.5, 4.0], dtype=torch.float64).view(1, 2, 1)
    y, logdet = layer(x)
    torch.testing.assert_close(
        y.mean((0, 2)), torch.zeros(2, dtype=torch.float64), atol=1e-9, rtol=0
    )
    var = x.var((0, 2), unbiased=False)
    torch.testing.assert_close(logdet, (-0.5 * torch.log(var + layer.eps)).sum().expand(16) * 5)


@pytest.mark.parametrize(
    "name", ["actnorm", "batchnorm", "reverse", "shuffle", "conv1x1", "conv1x1_lu", "scale",
             "coupling_affine", "coupling_tanh", "coupling_additive", "chain"],
)  # fmt: skip
def test_layers_accept_two_dimensional_points(name):
    """The toy densities are [B, 2]: channel dim 1, no trailing dims."""
    g = torch.Generator().manual_seed(5)
    layers = {
        "actnorm": lambda: ActNorm(2),
        "batchnorm": lambda: BatchNorm(2),
        "reverse": Reverse,
        "shuffle": lambda: Shuffle(2, seed=1),
        "conv1x1": lambda: InvertibleConv1x1(2),
        "conv1x1_lu": lambda: InvertibleConv1x1(2, lu=True),
        "scale": lambda: Scale(2),
        "coupling_affine": lambda: AffineCoupling(2, VectorNet(1, 2)),
        "coupling_tanh": lambda: AffineCoupling(2, VectorNet(1, 2), mode="tanh", keep="second"),
        "coupling_additive": lambda: AffineCoupling(2, VectorNet(1, 1), mode="additive"),
        "chain": lambda: Chain(
            ActNorm(2), AffineCoupling(2, VectorNet(1, 2), mode="tanh"), Reverse(), Scale(2)
        ),
    }
    layer = layers[name]().double()
    x = torch.randn(4, 2, generator=g, dtype=torch.float64)
    layer(x)  # data-dependent initialisation
    _randomise(layer, g).eval()
    assert_bijective(layer, x)
    if name.startswith("coupling"):
        cond = torch.randn(4, COND_CHANNELS, generator=g, dtype=torch.float64)
        assert_bijective(layer, x, cond)


def test_logistic_log_prob_matches_torch_distributions():
    base = Logistic(sigma=0.7)
    z = torch.randn(3, 5, dtype=torch.float64) * 3
    reference = torch.distributions.TransformedDistribution(
        torch.distributions.Uniform(torch.tensor(0.0, dtype=torch.float64), 1.0),
        [torch.distributions.SigmoidTransform().inv, torch.distributions.AffineTransform(0, 0.7)],
    )
    torch.testing.assert_close(base.log_prob(z), reference.log_prob(z).sum(1))
    unit = Logistic()
    torch.testing.assert_close(
        unit.log_prob(z, sigma=2.0), unit.log_prob(z / 2.0) - 5 * math.log(2.0)
    )


def test_logistic_samples_have_the_logistic_moments_and_temperature():
    g = torch.Generator().manual_seed(0)
    z = Logistic().sample((200_000,), generator=g, dtype=torch.float64)
    assert abs(z.mean().item()) < 0.02
    assert z.var().item() == pytest.approx(math.pi**2 / 3, rel=0.02)
    hot = Logistic().sample((200_000,), sigma=0.5, generator=torch.Generator().manual_seed(0))
    assert hot.std().item() == pytest.approx(0.5 * math.pi / math.sqrt(3), rel=0.02)
    assert torch.equal(Logistic().sample((3, 2), sigma=0.0), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="Logistic: sigma must be finite and > 0"):
        Logistic(sigma=0.0)


def test_flow_with_a_logistic_base_scores_and_samples():
    torch.manual_seed(0)
    flow = Flow(Chain(AffineCoupling(2, VectorNet(1, 2), mode="tanh"), Scale(2)), Logistic())
    x = torch.randn(6, 2)
    z, logdet = flow(x)
    torch.testing.assert_close(flow.log_prob(x), Logistic().log_prob(z) + logdet)
    assert flow.sample((5, 2)).shape == (5, 2)
