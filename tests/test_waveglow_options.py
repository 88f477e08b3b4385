"""WaveGlow's model options (prior, actnorm, lu, upsampler, wavenet_conv, large grouping):
each exact in float64, off by default, and doing what its name says."""

from __future__ import annotations

import pytest
import torch
from flow_checks import assert_bijective
from mdct_reference import direct_mdct
from waveglow_fixtures import TINY, FixedMel

from waveflow.audio.models.conditioning import InterpolatingUpsampler, interpolate_frames
from waveflow.audio.models.prior_net import PriorNet
from waveflow.audio.models.waveglow import FlowStep, WaveGlow, WaveGlowConfig
from waveflow.bijectors import ActNorm, LappedFold, LearnedPrior, Split
from waveflow.errors import WaveflowError

OPTIONS = {
    "conditional_prior": {"prior": "conditional"},
    "actnorm": {"actnorm": True},
    "lu": {"lu": True},
    "interpolate": {"upsampler": "interpolate"},
    "separable": {"wavenet_conv": "separable"},
    "dct": {"conv_init": "dct", "alternate_coupling": True},
    "lapped": {"lapped": True},
    "lapped_dct": {"lapped": True, "conv_init": "dct", "alternate_coupling": True},
    "group_equals_hop": {"n_group": 8, "upsampler": "interpolate", "n_early_every": 2},
    "all": {
        "prior": "conditional",
        "actnorm": True,
        "lu": True,
        "upsampler": "interpolate",
        "wavenet_conv": "separable",
        "lapped": True,
    },
}


def randomised(model: WaveGlow, seed: int = 0) -> WaveGlow:
    """Every zero-initialised part (end convs, prior nets) and ActNorm made non-trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, FlowStep):
                end = module.coupling.net.end
                end.weight.copy_(0.3 * torch.randn(end.weight.shape, generator=gen))
                end.bias.copy_(0.1 * torch.randn(end.bias.shape, generator=gen))
            elif isinstance(module, PriorNet):
                conv = module.conv
                conv.weight.copy_(0.1 * torch.randn(conv.weight.shape, generator=gen))
                conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=gen))
            elif isinstance(module, ActNorm):
                module.bias.copy_(0.1 * torch.randn(module.num_channels, generator=gen))
                module.log_scale.copy_(0.2 * torch.randn(module.num_channels, generator=gen))
                module.initialized.fill_(True)
    return model


def option_model(option: str, seed: int = 0) -> WaveGlow:
    torch.manual_seed(seed)
    return randomised(WaveGlow(**{**TINY, **OPTIONS[option]}).double().eval(), seed)


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_option_is_an_exact_bijection(option):
    model = option_model(option)
    mel = torch.randn(2, 5, 2, dtype=torch.float64)
    audio = 0.3 * torch.randn(2, 1, 16, dtype=torch.float64)
    assert_bijective(FixedMel(model, mel), audio, cond=mel)


def test_options_are_off_by_default_and_change_the_structure_when_on():
    default = WaveGlow(**TINY)
    kinds = {type(m) for m in default.modules()}
    assert not kinds & {ActNorm, LearnedPrior, PriorNet, InterpolatingUpsampler}
    assert WaveGlowConfig() == WaveGlowConfig(
        prior="standard",
        actnorm=False,
        lu=False,
        upsampler="transposed",
        wavenet_conv="dense",
        conv_init="random",
        lapped=False,
    )
    assert not any(isinstance(m, LappedFold) for m in default.modules())
    full = option_model("all")
    assert all(isinstance(step.actnorm, ActNorm) for step in full.flow_steps())
    assert all(step.conv.lu for step in full.flow_steps())
    assert isinstance(full.upsample, InterpolatingUpsampler)
    splits = [m for m in full.modules() if isinstance(m, Split)]
    assert splits and all(isinstance(s.prior_net, PriorNet) for s in splits)
    assert sum(isinstance(m, LearnedPrior) for m in full.modules()) == 1
    assert sum(isinstance(m, LappedFold) for m in full.modules()) == 1


def test_fresh_conditional_prior_is_the_standard_prior():
    """Zero-initialised prior nets: same weights otherwise, same likelihood and samples."""
    standard = WaveGlow(**TINY).double().eval()
    conditional = WaveGlow(**TINY, prior="conditional").double().eval()
    missing, unexpected = conditional.load_state_dict(standard.state_dict(), strict=False)
    assert (
        not unexpected and missing and all(".net.conv." in k or "prior_net" in k for k in missing)
    )
    mel = torch.randn(2, 5, 4, dtype=torch.float64)
    audio = 0.3 * torch.randn(2, 32, dtype=torch.float64)
    torch.testing.assert_close(conditional.log_prob(audio, mel), standard.log_prob(audio, mel))
    gen = [torch.Generator().manual_seed(5) for _ in range(2)]
    torch.testing.assert_close(
        conditional.infer(mel, 0.7, gen[0]), standard.infer(mel, 0.7, gen[1])
    )


def test_conditional_prior_samples_mean_plus_temperature_times_std():
    """One flow without couplings' effect: the sampled latent is mean + std * sigma * eps."""
    torch.manual_seed(0)
    model = WaveGlow(
        **{**TINY, "n_flows": 1, "n_early_every": 4, "upsampler": "interpolate"},
        prior="conditional",
    ).double()
    prior = next(m for m in model.modules() if isinstance(m, LearnedPrior))
    with torch.no_grad():
        prior.net.conv.bias[:4].copy_(torch.tensor([0.5, -0.5, 0.0, 1.0]))  # mean
        prior.net.conv.bias[4:].copy_(torch.log(torch.tensor([2.0, 0.5, 1.0, 3.0])))  # std
    mel = torch.zeros(1, 5, 2000, dtype=torch.float64)
    audio = model.infer(mel, sigma=0.5, generator=torch.Generator().manual_seed(1))
    # map back through the step (no prior) to the prior's input x = mean + std * 0.5 * eps
    step = model.flow_steps()[0]
    cond = model.condition(mel, audio.shape[1])
    x = step(model.group(audio[:, None])[0], cond)[0][0]
    torch.testing.assert_close(
        x.mean(1), torch.tensor([0.5, -0.5, 0.0, 1.0]).double(), atol=0.1, rtol=0
    )
    torch.testing.assert_close(
        x.std(1), 0.5 * torch.tensor([2.0, 0.5, 1.0, 3.0]).double(), atol=0.0, rtol=0.06
    )


def test_interpolating_conditioner_is_mel_rate_and_aligned():
    frames, hop = 5, 16
    ramp = torch.arange(frames, dtype=torch.float64).expand(1, 3, frames)  # value = frame index
    for group in (4, 16):
        columns = frames * hop // group
        out = interpolate_frames(ramp, columns, group, hop)
        centre = (torch.arange(columns, dtype=torch.float64) * group + (group - 1) / 2) / hop
        torch.testing.assert_close(out[0, 0], centre.clamp(0, frames - 1))
        conditioner = InterpolatingUpsampler(3, hop, group).double()
        torch.testing.assert_close(conditioner(ramp, columns * group), out)  # identity init
    model = WaveGlow(**{**TINY, "n_group": 8, "n_early_every": 2, "upsampler": "interpolate"})
    assert model.condition(torch.zeros(2, 5, 3), 24).shape == (2, 5, 3)  # columns = frames
    assert model.config.cond_channels() == 5
    assert WaveGlowConfig(**TINY).cond_channels() == 5 * 4


@pytest.mark.parametrize("lu", [False, True])
def test_dct_init_makes_the_first_conv_a_spectrum(lu):
    """A cosine at DCT frequency k in every column maps to channel k alone; later convs: I."""
    model = WaveGlow(**TINY, conv_init="dct", lu=lu).double()
    steps = model.flow_steps()
    n = TINY["n_group"]
    for k in range(n):
        column = torch.cos(torch.pi * (torch.arange(n, dtype=torch.float64) + 0.5) * k / n)
        spectrum = steps[0].conv(column.reshape(1, n, 1))[0][0, :, 0]
        assert spectrum.abs().argmax() == k
        torch.testing.assert_close(spectrum.norm(), column.norm())
    for step in steps[1:]:
        eye = torch.eye(step.conv.num_channels, dtype=torch.float64)
        torch.testing.assert_close(step.conv.matrix(), eye)


@pytest.mark.parametrize("lu", [False, True])
def test_lapped_dct_init_makes_the_first_conv_an_mdct(lu):
    """Fold, grouping and flow 0's conv at init: the MDCT of sine-windowed frames (hop g)."""
    model = WaveGlow(**TINY, lapped=True, conv_init="dct", lu=lu).double()
    g, frames = TINY["n_group"], 5
    audio = torch.randn(1, 1, g * frames, dtype=torch.float64)
    fold, group = model.flow.transform.bijectors[0].bijectors
    spectra = model.flow_steps()[0].conv(group(fold(audio)[0])[0])[0][0]  # [g, frames]
    for j in range(1, frames - 1):  # interior frames: both neighbours exist
        torch.testing.assert_close(spectra[:, j], direct_mdct(audio[0, 0], g, j))


def test_lapped_model_has_the_same_parameter_names():
    """The fold has no weights and does not shift the flows' names (init_from, NVIDIA import)."""
    plain, lapped = WaveGlow(**TINY), WaveGlow(**TINY, lapped=True)
    assert lapped.state_dict().keys() == plain.state_dict().keys()


def test_separable_wavenet_is_lighter():
    dense = WaveGlow(**{**TINY, "n_channels": 32})
    separable = WaveGlow(**{**TINY, "n_channels": 32}, wavenet_conv="separable")
    layer = separable.flow_steps()[0].coupling.net.in_layers[0]
    assert layer[0].groups == 32 and layer[0].kernel_size == (3,) and layer[1].kernel_size == (1,)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(separable) < count(dense)


def test_actnorm_initialises_from_the_first_batch():
    torch.manual_seed(0)
    model = WaveGlow(**TINY, actnorm=True).double()
    audio = 0.3 * torch.randn(4, 64, dtype=torch.float64)
    model(audio, torch.randn(4, 5, 8, dtype=torch.float64))
    first = model.flow_steps()[0].actnorm
    assert bool(first.initialized)
    grouped = model.group(audio[:, None])[0]
    standardised = first(grouped)[0]
    torch.testing.assert_close(
        standardised.mean((0, 2)), torch.zeros(4).double(), atol=1e-9, rtol=0
    )
    torch.testing.assert_close(
        standardised.std((0, 2), unbiased=False), torch.ones(4).double(), atol=1e-5, rtol=0
    )


def test_constructor_takes_a_config_or_keywords():
    cfg = WaveGlowConfig(**TINY, prior="conditional")
    assert WaveGlow(cfg).config == WaveGlow(**TINY, prior="conditional").config == cfg
    assert WaveGlow.from_config(cfg).config == cfg
    with pytest.raises(WaveflowError, match="not both"):
        WaveGlow(cfg, n_flows=2)
    with pytest.raises(WaveflowError, match="unknown option.*n_flow\\b"):
        WaveGlow(n_flow=2)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prior": "learned"}, "prior must be one of standard, conditional"),
        ({"upsampler": "nearest"}, "upsampler must be one of"),
        ({"wavenet_conv": "sparse"}, "wavenet_conv must be one of"),
        ({"actnorm": 1}, "actnorm must be true or false"),
    ],
)
def test_bad_option_values_raise_clear_errors(overrides, message):
    with pytest.raises(WaveflowError, match=message):
        WaveGlowConfig(**{**TINY, **overrides})


def test_interpolate_needs_no_upsample_kernel():
    WaveGlowConfig(**{**TINY, "upsample_kernel": 1, "upsampler": "interpolate"})


class Synthesis(torch.nn.Module):
    """The synthesis path of a WaveGlow: conditioner + flow inverse (no input checks)."""

    def __init__(self, model: WaveGlow) -> None:
        super().__init__()
        self.model = model

    def forward(self, z, mel):
        return self.model.flow.inverse(z, self.model.condition(mel, z.shape[2]))[0]


@torch.no_grad()
def test_inverse_with_all_options_traces_to_the_same_function():
    """No data-dependent Python control flow on the synthesis path (TorchScript/ONNX export)."""
    synthesis = Synthesis(option_model("all").float())
    example = (torch.randn(1, 1, 32), torch.randn(1, 5, 4))
    traced = torch.jit.trace(synthesis, example, check_trace=False)  # (1x1-conv inverse cache)
    z, mel = torch.randn(1, 1, 32), torch.randn(1, 5, 4)
    torch.testing.assert_close(traced(z, mel), synthesis(z, mel))
