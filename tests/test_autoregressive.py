"""AutoregressiveAffine (IAF): exact in float64, strictly causal, windowed density = full prefix."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from flow_checks import assert_bijective
from torch import nn

from waveflow.audio.models.wavenet import WaveNet
from waveflow.bijectors import AutoregressiveAffine, Chain, Reverse

COND = 3


class TinyCausalNet(nn.Module):
    """Two causal dilated convs (kernel 2, dilations 1, 2) plus a per-step cond projection."""

    causal_window = 4

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, 8, 2)
        self.conv2 = nn.Conv1d(8, 2 * channels, 2, dilation=2)
        self.cond = nn.Conv1d(COND, 8, 1)

    def forward(self, u, cond=None):
        h = torch.tanh(self.conv1(F.pad(u, (1, 0))))
        if cond is not None:
            h = h + self.cond(cond)
        return 0.5 * torch.tanh(self.conv2(F.pad(h, (2, 0))))


def _layer(channels: int = 2, receptive_field: int | None = None) -> AutoregressiveAffine:
    torch.manual_seed(0)
    return AutoregressiveAffine(channels, TinyCausalNet(channels), receptive_field).double()


@pytest.mark.parametrize("with_cond", [False, True])
def test_round_trip_and_logdet_match_autograd(with_cond: bool) -> None:
    layer = _layer()
    x = torch.randn(2, 2, 12, dtype=torch.float64)
    cond = torch.randn(2, COND, 12, dtype=torch.float64) if with_cond else None
    assert_bijective(layer, x, cond)


def test_windowed_density_equals_the_whole_prefix() -> None:
    """The O(T * R) forward with the net's receptive field equals the O(T^2) forward."""
    windowed = _layer()
    assert windowed.receptive_field == 4
    whole = AutoregressiveAffine(2, windowed.net, receptive_field=10**6)
    x = torch.randn(2, 2, 16, dtype=torch.float64)
    cond = torch.randn(2, COND, 16, dtype=torch.float64)
    z_windowed, ld_windowed = windowed(x, cond)
    z_whole, ld_whole = whole(x, cond)
    torch.testing.assert_close(z_windowed, z_whole, atol=1e-12, rtol=0)
    torch.testing.assert_close(ld_windowed, ld_whole, atol=1e-12, rtol=0)


def test_too_small_a_receptive_field_is_inexact() -> None:
    """The window matters: a window of 2 steps misses part of what the net sees."""
    layer = _layer(receptive_field=2)
    x = torch.randn(1, 2, 12, dtype=torch.float64)
    z, _ = layer(x)
    x_back, _ = layer.inverse(z)
    assert (x_back - x).abs().max() > 1e-6


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_output_at_t_depends_only_on_inputs_before_and_at_t(direction: str) -> None:
    """The Jacobian, time-major, is block lower-triangular with diagonal diagonal blocks."""
    layer = _layer()
    channels, steps = 2, 10
    x = torch.randn(1, channels, steps, dtype=torch.float64)
    fn = layer if direction == "forward" else layer.inverse
    jac = torch.autograd.functional.jacobian(lambda v: fn(v)[0], x)
    jac = jac.reshape(channels, steps, channels, steps).permute(1, 0, 3, 2)  # [t_out, c, t_in, c]
    below = 0.0
    for t_out in range(steps):
        for t_in in range(steps):
            block = jac[t_out, :, t_in, :]
            if t_in > t_out:
                assert block.abs().max() == 0, (t_out, t_in)
            elif t_in == t_out:
                assert (block - torch.diag(torch.diagonal(block))).abs().max() == 0
            else:
                below = max(below, float(block.abs().max()))
    assert below > 1e-3  # not trivially diagonal: the past does matter


def test_causal_wavenet_is_causal_and_an_iaf_chain_is_exact() -> None:
    torch.manual_seed(1)
    net = WaveNet(1, COND, n_layers=2, n_channels=4, kernel_size=3, causal=True)
    assert net.causal_window == 7 and net.receptive_field() == 6
    nn.init.normal_(net.end.weight, std=0.1)  # a fresh WaveNet is the identity; perturb it
    net = net.double()
    u = torch.randn(1, 1, 12, dtype=torch.float64)
    cond = torch.randn(1, COND, 12, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: net(v, cond), u)[0, :, :, 0, 0, :]
    assert torch.triu(jac[0], diagonal=1).abs().max() == 0  # shift output sees no future input
    assert torch.tril(jac[0]).abs().max() > 0
    flow = Chain(AutoregressiveAffine(1, net), Reverse()).double()
    x = torch.randn(2, 1, 12, dtype=torch.float64)
    assert_bijective(flow, x, torch.randn(2, COND, 12, dtype=torch.float64))


def test_bad_shapes_are_named() -> None:
    layer = _layer()
    with pytest.raises(ValueError, match=r"expected input of shape \[B, C, T\]"):
        layer(torch.randn(1, 2, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="cond of shape"):
        layer.inverse(torch.randn(1, 2, 8, dtype=torch.float64), torch.randn(1, COND, 7))
