"""WaveGlow: exactness in float64, the published parameter count, the loss/NLL relation,
input validation and low-precision inference."""

from __future__ import annotations

import math

import pytest
import torch
from flow_checks import assert_bijective
from waveglow_fixtures import TINY, FixedMel

from waveflow.audio.models.waveglow import WaveGlow, WaveGlowConfig, likelihood_metrics
from waveflow.errors import WaveflowError


def tiny_model(dtype=torch.float64, seed=0, **overrides) -> WaveGlow:
    torch.manual_seed(seed)
    model = WaveGlow(**{**TINY, **overrides}).to(dtype)
    with torch.no_grad():  # non-zero end convs: the couplings are not the identity
        for step in model.flow_steps():
            step.coupling.net.end.weight.normal_(0, 0.3)
            step.coupling.net.end.bias.normal_(0, 0.1)
    return model.eval()


@pytest.mark.parametrize("alternate", [False, True])
def test_tiny_waveglow_is_an_exact_bijection(alternate):
    model = tiny_model(alternate_coupling=alternate)
    mel = torch.randn(1, 5, 2, dtype=torch.float64)
    audio = 0.3 * torch.randn(1, 1, 16, dtype=torch.float64)
    assert_bijective(FixedMel(model, mel), audio, cond=mel)


def test_structure_follows_nvidia_early_outputs():
    model = tiny_model(n_flows=6, n_group=8, n_early_every=2, n_early_size=2)
    assert [step.conv.num_channels for step in model.flow_steps()] == [8, 8, 6, 6, 4, 4]
    assert all(step.coupling.keep == "first" for step in model.flow_steps())
    alternating = tiny_model(alternate_coupling=True)
    assert [s.coupling.keep for s in alternating.flow_steps()] == ["first", "second"] * 2


def test_default_config_has_the_published_parameter_count():
    model = WaveGlow()
    assert sum(p.numel() for p in model.parameters()) == 87_879_272
    assert WaveGlow.from_config(WaveGlowConfig()).config == model.config


def test_early_outputs_are_the_leading_latent_channels():
    """Channels factored out early are not touched by later flows: perturbing the last flow's
    coupling net changes only the final channels of the grouped latent."""
    model = tiny_model()
    mel = torch.randn(1, 5, 4, dtype=torch.float64)
    audio = 0.3 * torch.randn(1, 32, dtype=torch.float64)
    z0 = model(audio, mel)[0].reshape(1, 8, 4).transpose(1, 2)  # grouped [B, g, T/g]
    with torch.no_grad():
        model.flow_steps()[-1].coupling.net.end.bias.add_(1.0)
    z1 = model(audio, mel)[0].reshape(1, 8, 4).transpose(1, 2)
    torch.testing.assert_close(z0[:, :2], z1[:, :2], atol=0, rtol=0)
    assert (z0[:, 2:] - z1[:, 2:]).abs().max() > 1e-3


def test_log_prob_equals_nvidia_loss_plus_gaussian_normaliser():
    model = tiny_model()
    mel = torch.randn(3, 5, 4, dtype=torch.float64)
    audio = 0.2 * torch.randn(3, 32, dtype=torch.float64)
    for sigma in (1.0, 0.7):
        metrics = model.nll(audio, mel, sigma=sigma)
        z, logdet = model(audio, mel)
        by_hand = ((z**2).sum() / (2 * sigma**2) - logdet.sum()) / z.numel()
        torch.testing.assert_close(metrics["nvidia_loss"], by_hand)
        expected = metrics["nvidia_loss"] + 0.5 * math.log(2 * math.pi * sigma**2)
        torch.testing.assert_close(metrics["nats_per_sample"], expected)
        torch.testing.assert_close(metrics["bits_per_sample"], expected / math.log(2))
        log_prob = model.log_prob(audio, mel, sigma=sigma)
        torch.testing.assert_close(-log_prob.mean() / 32, metrics["nats_per_sample"])
        # log p(x) = log N(z; 0, sigma^2) + log|det dz/dx| with the density written out
        density = torch.distributions.Normal(0.0, sigma).log_prob(z).sum(1) + logdet
        torch.testing.assert_close(log_prob, density)


def test_likelihood_metrics_are_float32_for_low_precision_latents():
    z = torch.randn(2, 16).bfloat16()
    metrics = likelihood_metrics(z, torch.zeros(2))
    assert all(v.dtype == torch.float32 and v.dim() == 0 for v in metrics.values())


def test_infer_length_inverse_consistency_and_sigma_zero_is_deterministic():
    model = tiny_model()
    mel = torch.randn(2, 5, 6, dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    audio = model.infer(mel, sigma=0.6, generator=gen)
    assert audio.shape == (2, 6 * 8) and audio.dtype == torch.float64
    z, _ = model(audio, mel)
    back, _ = model.inverse(z, mel)
    torch.testing.assert_close(back, audio, atol=1e-10, rtol=0)
    mode = model.inverse(torch.zeros_like(audio), mel)[0]  # sigma 0: the latent's mode
    torch.testing.assert_close(model.infer(mel, sigma=0.0), mode)
    assert not torch.allclose(mode, audio)
    again = model.infer(mel, sigma=0.6, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, audio)


def test_bf16_inference_stays_close_to_fp32():
    model = tiny_model(dtype=torch.float32)
    mel = torch.randn(1, 5, 8)
    full = model.infer(mel, sigma=0.5, generator=torch.Generator().manual_seed(0))
    low = model.infer(
        mel, sigma=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.bfloat16
    )
    assert low.dtype == torch.float32 and low.shape == full.shape
    assert torch.isfinite(low).all()
    assert (low - full).abs().max() < 0.1 * full.abs().max() + 1e-3


def test_remove_weight_norm_keeps_the_function():
    model = tiny_model()
    mel = torch.randn(1, 5, 4, dtype=torch.float64)
    audio = 0.3 * torch.randn(1, 32, dtype=torch.float64)
    before = model(audio, mel)
    model.remove_weight_norm()
    assert not any("parametrizations" in k for k in model.state_dict())
    after = model(audio, mel)
    torch.testing.assert_close(after, before)


@pytest.mark.parametrize(
    ("audio_shape", "mel_shape", "message"),
    [
        ((1, 32), (1, 4, 4), "mel has 4 channels"),
        ((1, 32), (5, 4), "mel must have shape"),
        ((1, 32), (1, 5, 0), "empty"),
        ((1, 30), (1, 5, 4), "multiple of n_group"),
        ((1, 40), (1, 5, 4), "exceeds frames"),
        ((2, 32), (1, 5, 4), "batch sizes differ"),
        ((32,), (1, 5, 4), "audio must have shape"),
    ],
)
def test_bad_inputs_raise_clear_errors(audio_shape, mel_shape, message):
    model = tiny_model()
    with pytest.raises(WaveflowError, match=message):
        model(
            torch.zeros(audio_shape, dtype=torch.float64),
            torch.zeros(mel_shape, dtype=torch.float64),
        )


def test_non_finite_inputs_are_rejected():
    model = tiny_model()
    mel = torch.zeros(1, 5, 4, dtype=torch.float64)
    with pytest.raises(WaveflowError, match="NaN or infinite"):
        model.infer(mel.clone().fill_(float("nan")))
    audio = torch.zeros(1, 32, dtype=torch.float64)
    audio[0, 3] = float("inf")
    with pytest.raises(WaveflowError, match="NaN or infinite"):
        model(audio, mel)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_group": 6, "hop_length": 8}, "multiple of n_group"),
        ({"kernel_size": 4}, "odd"),
        ({"upsample_kernel": 4}, "upsample_kernel"),
        ({"n_early_size": 3}, "even"),
        ({"n_flows": 0}, "positive integer"),
    ],
)
def test_bad_configs_raise_clear_errors(overrides, message):
    with pytest.raises(WaveflowError, match=message):
        WaveGlowConfig(**{**TINY, **overrides})
