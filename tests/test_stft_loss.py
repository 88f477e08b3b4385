"""The synthesis-path multi-resolution STFT loss (`loss.stft_weight`) of the flow vocoders."""

from __future__ import annotations

import pytest
import torch

from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.tasks.stft_loss import multi_resolution_stft_loss
from waveflow.audio.tasks.vocoder import FlowVocoderLossConfig, WaveGlowTask
from waveflow.audio.tasks.waveflow_task import WaveFlowTask
from waveflow.errors import WaveflowError


def test_mr_stft_loss_is_zero_for_equal_signals_and_grows_with_the_difference():
    torch.manual_seed(0)
    real = torch.randn(2, 4096)
    assert float(multi_resolution_stft_loss(real, real)) == pytest.approx(0.0, abs=1e-6)
    near = multi_resolution_stft_loss(real + 0.01 * torch.randn(2, 4096), real)
    far = multi_resolution_stft_loss(0.1 * torch.randn(2, 4096), real)
    assert 0 < float(near) < float(far)


def tiny_waveglow() -> WaveGlow:
    torch.manual_seed(1)
    model = WaveGlow(
        n_mel_channels=8, n_flows=2, n_group=8, n_early_every=4, n_layers=2, n_channels=8,
        hop_length=64, upsample_kernel=128,
    )  # fmt: skip
    with torch.no_grad():  # leave the identity start so that the loss sees the networks
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("task", [WaveGlowTask(), WaveFlowTask()])
def test_stft_weight_adds_the_synthesis_loss_and_reaches_the_networks(task):
    if isinstance(task, WaveFlowTask):
        from waveflow.audio.models.waveflow_model import WaveFlow

        torch.manual_seed(1)
        model = WaveFlow(n_mel_channels=8, n_group=8, n_flows=2, n_layers=2, n_channels=4,
                         hop_length=64)  # fmt: skip
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    else:
        model = tiny_waveglow()
    audio, mel = 0.1 * torch.randn(2, 2048), torch.randn(2, 8, 32)
    plain = task.loss(model, (audio, mel), FlowVocoderLossConfig())
    assert "stft_loss" not in plain
    torch.manual_seed(5)
    mixed = task.loss(model, (audio, mel), FlowVocoderLossConfig(stft_weight=0.5))
    torch.testing.assert_close(mixed["nll"], plain["loss"])
    torch.testing.assert_close(mixed["loss"], mixed["nll"] + 0.5 * mixed["stft_loss"])
    model.zero_grad()
    mixed["stft_loss"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize(
    ("fields", "key"),
    [({"stft_weight": -1.0}, "stft_weight"), ({"stft_sigma": -0.1}, "stft_sigma")],
)
def test_bad_stft_options_are_one_line_errors(fields, key):
    with pytest.raises(WaveflowError, match=f"loss.{key} must be >= 0"):
        FlowVocoderLossConfig(**fields)
