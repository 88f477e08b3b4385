"""Every bijector and composed chains are exact bijections with the right log-det (float64).

Shapes ``[B, C, T]`` and ``[B, C, H, W]``, with and without a conditioning tensor.
"""

from __future__ import annotations

import pytest
import torch
from flow_checks import assert_bijective
from tiny_nets import COND_CHANNELS, TinyNet
from torch import nn

from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    Chain,
    Inverse,
    InvertibleConv1x1,
    LearnedPrior,
    Reverse,
    Shuffle,
    Split,
    Squeeze,
)


class TinyPriorNet(nn.Module):
    """``net(cond) -> [B|1, 2C, 1, ...]``: a learned constant, shifted by a linear map of cond."""

    def __init__(self, channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        self.const = nn.Parameter(0.3 * torch.randn(1, 2 * channels))
        self.cond_proj = nn.Linear(COND_CHANNELS, 2 * channels)

    def forward(self, cond):
        h = self.const if cond is None else self.const + self.cond_proj(cond.flatten(2).mean(-1))
        return h.view(*h.shape, *([1] * self.spatial_dims))


def _shape(spatial_dims: int, channels: int = 4) -> tuple[int, ...]:
    return (2, channels, 8) if spatial_dims == 1 else (2, channels, 4, 4)


def make_layer(name: str, spatial_dims: int, channels: int = 4) -> nn.Module:
    d = spatial_dims
    if name == "actnorm":
        return ActNorm(channels)
    if name == "conv1x1":
        return InvertibleConv1x1(channels)
    if name == "conv1x1_lu":
        return InvertibleConv1x1(channels, lu=True)
    if name.startswith("coupling_"):
        _, mode, keep = name.split("_")
        out = channels // 2 if mode == "additive" else channels
        return AffineCoupling(channels, TinyNet(channels // 2, out, d), mode=mode, keep=keep)
    if name == "squeeze":
        return Squeeze(2, spatial_dims=d)
    if name == "unsqueeze":
        return Inverse(Squeeze(2, spatial_dims=d))
    if name == "reverse":
        return Reverse()
    if name == "shuffle":
        return Shuffle(channels, seed=3)
    if name == "split_fixed":
        inner = Chain(InvertibleConv1x1(channels - 1), ActNorm(channels - 1))
        return Split(channels, 1, inner=inner)
    if name == "split_learned":
        inner = AffineCoupling(2, TinyNet(1, 2, d))
        return Split(channels, 2, inner=inner, prior_net=TinyNet(2, 4, d))
    if name == "learned_prior":
        return LearnedPrior(channels, TinyPriorNet(channels, d))
    if name == "glow_level":
        # One multi-scale Glow level built only from core layers; shape preserving.
        c = channels * 2**d
        step = Chain(
            ActNorm(c),
            InvertibleConv1x1(c, lu=True),
            AffineCoupling(c, TinyNet(c // 2, c, d), mode="sigmoid"),
        )
        top = Chain(
            InvertibleConv1x1(c // 2),
            AffineCoupling(c // 2, TinyNet(c // 4, c // 2, d)),
            LearnedPrior(c // 2, TinyPriorNet(c // 2, d)),
        )
        split = Split(c, c // 2, inner=top, prior_net=TinyNet(c // 2, c, d))
        return Chain(Squeeze(2, d), step, split, Inverse(Squeeze(2, d)))
    if name == "waveglow_like":
        # WaveGlow's layout: squeeze, then (1x1 conv, affine coupling) with early outputs.
        def step(c):
            return Chain(InvertibleConv1x1(c), AffineCoupling(c, TinyNet(c // 2, c, d)))

        return Chain(step(channels), Split(channels, 2, inner=Chain(step(channels - 2))))
    raise KeyError(name)


LAYERS = [
    "actnorm",
    "conv1x1",
    "conv1x1_lu",
    "coupling_affine_first",
    "coupling_affine_second",
    "coupling_sigmoid_first",
    "coupling_sigmoid_second",
    "coupling_additive_first",
    "coupling_additive_second",
    "squeeze",
    "unsqueeze",
    "reverse",
    "shuffle",
    "split_fixed",
    "split_learned",
    "learned_prior",
    "glow_level",
    "waveglow_like",
]


def _input(name: str, spatial_dims: int, generator: torch.Generator) -> torch.Tensor:
    shape = list(_shape(spatial_dims))
    if name == "unsqueeze":
        shape[1] *= 2**spatial_dims
        shape[2:] = [s // 2 for s in shape[2:]]
    return 1.5 + 2.0 * torch.randn(shape, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("with_cond", [False, True], ids=["nocond", "cond"])
@pytest.mark.parametrize("spatial_dims", [1, 2], ids=["BCT", "BCHW"])
@pytest.mark.parametrize("name", LAYERS)
def test_bijection_is_exact(name, spatial_dims, with_cond):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    layer = make_layer(name, spatial_dims).double()
    x = _input(name, spatial_dims, generator)
    cond = None
    if with_cond:
        cond = torch.randn(x.shape[0], COND_CHANNELS, *x.shape[2:], generator=generator).double()
    layer(x, cond)  # data-dependent ActNorm initialisation happens here
    for p in layer.parameters():  # move away from the (often trivial) initial values
        p.data.add_(0.1 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    assert_bijective(layer, x, cond)


@pytest.mark.parametrize("name", ["coupling_affine_first", "split_learned", "learned_prior"])
def test_conditioning_changes_the_output(name):
    torch.manual_seed(0)
    layer = make_layer(name, 1).double()
    x = torch.randn(_shape(1), dtype=torch.float64)
    cond = torch.randn(2, COND_CHANNELS, 8, dtype=torch.float64)
    y1, _ = layer(x, cond)
    y2, _ = layer(x, cond + 1.0)
    assert not torch.allclose(y1, y2)


def test_chain_runs_inverse_in_reverse_order_and_sums_logdets():
    torch.manual_seed(0)
    a, b = ActNorm(4).double(), InvertibleConv1x1(4).double()
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    chain = Chain(a, b)
    y, logdet = chain(x)
    ya, la = a(x)
    yb, lb = b(ya)
    torch.testing.assert_close(y, yb)
    torch.testing.assert_close(logdet, la + lb)
    x_back, _ = chain.inverse(y)
    torch.testing.assert_close(x_back, a.inverse(b.inverse(y)[0])[0])


def test_float32_round_trip_on_long_audio():
    """A WaveGlow-like float32 stack inverts a 2**16-sample signal to within 1e-4."""
    torch.manual_seed(0)
    d, group = 1, 8

    def step(c):
        return Chain(InvertibleConv1x1(c), AffineCoupling(c, TinyNet(c // 2, c, d)))

    flow = Chain(
        Squeeze(group, spatial_dims=1),
        step(8),
        step(8),
        Split(8, 2, inner=Chain(step(6), step(6))),
    )
    audio = 0.5 * torch.randn(1, 1, 2**16)
    z, logdet = flow(audio)
    with torch.no_grad():
        back, inv_logdet = flow.inverse(z)
    assert (back - audio).abs().max().item() < 1e-4
    assert torch.isfinite(logdet).all()
    torch.testing.assert_close(inv_logdet, -logdet, atol=1e-2, rtol=1e-5)
