"""Denoiser: removes the model's stationary bias, keeps length, strength 0 is the identity."""

from __future__ import annotations

import math

import pytest
import torch

from waveflow.audio.models.denoiser import Denoiser
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.errors import WaveflowError

STFT = dict(n_fft=256, hop_length=64, win_length=256)


def biased_model(n_mel: int = 7) -> WaveGlow:
    torch.manual_seed(0)
    model = WaveGlow(
        n_mel_channels=n_mel, n_flows=2, n_group=4, n_early_every=4, n_early_size=2,
        n_layers=2, n_channels=8, hop_length=16, upsample_kernel=32,
    )  # fmt: skip
    with torch.no_grad():
        for step in model.flow_steps():
            step.coupling.net.end.weight.normal_(0, 0.3)
            step.coupling.net.end.bias.normal_(0, 0.3)
    return model.eval()


def test_denoising_removes_model_bias_noise():
    model = biased_model()
    denoiser = Denoiser(model, **STFT)
    frames = 200
    noise = model.infer(torch.zeros(1, 7, frames), sigma=0.0)[0]  # the model's own bias
    t = torch.arange(noise.shape[0]) / 16000
    clean = 0.5 * torch.sin(2 * math.pi * 440 * t) * torch.sin(2 * math.pi * 3 * t)
    noisy = clean + noise
    out = denoiser(noisy, strength=1.0)
    assert out.shape == noisy.shape
    residual = (out - clean).pow(2).mean()
    assert residual < 0.5 * noise.pow(2).mean()


def test_strength_zero_is_identity_and_batches_work():
    model = biased_model(n_mel=3)
    denoiser = Denoiser(model, mode="normal", **STFT)
    audio = 0.1 * torch.randn(2, 3001)
    torch.testing.assert_close(denoiser(audio, strength=0.0), audio, atol=1e-5, rtol=0)
    assert denoiser(audio[0], strength=0.1).shape == (3001,)


def test_bad_arguments():
    model = biased_model()
    with pytest.raises(WaveflowError, match="mode"):
        Denoiser(model, mode="pink", **STFT)
    with pytest.raises(WaveflowError, match="audio must be"):
        Denoiser(model, **STFT)(torch.zeros(10))
