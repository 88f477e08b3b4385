"""Glow: exact bijectivity through the whole multi-scale model, bits/dim, sampling, errors."""

from __future__ import annotations

import math

import pytest
import torch
from flow_checks import assert_bijective
from torch import nn

from waveflow.bijectors import ActNorm, InvertibleConv1x1, LearnedPrior
from waveflow.errors import WaveflowError
from waveflow.image import Glow, GlowConfig


class Adapter(nn.Module):
    """Glow's (x, y) API under the bijector contract (cond = labels) for assert_bijective."""

    def __init__(self, model: Glow) -> None:
        super().__init__()
        self.model = model

    def forward(self, x, cond=None):
        return self.model(x, cond)

    def inverse(self, z, cond=None):
        return self.model.inverse(z, cond)


def tiny_glow(seed: int = 0, channels: int = 1, **kwargs) -> Glow:
    """A float64 L=2, K=2 Glow, ActNorm-initialised on data, with every parameter
    (including the zero-initialised convs and priors) perturbed so no layer is the identity."""
    torch.manual_seed(seed)
    options = dict(in_channels=channels, n_levels=2, n_steps=2, hidden_channels=8, image_size=8)
    model = Glow(**{**options, **kwargs}).double()
    x = torch.rand(4, channels, 8, 8, dtype=torch.float64) - 0.5
    labels = torch.arange(4) % model.n_classes if model.n_classes else None
    model.initialize(x, labels)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model


@pytest.mark.parametrize("permutation", ["conv1x1", "shuffle", "reverse"])
@pytest.mark.parametrize("coupling", ["affine", "additive"])
def test_whole_model_is_an_exact_bijection(permutation, coupling):
    model = tiny_glow(coupling=coupling, permutation=permutation)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) - 0.5
    assert_bijective(Adapter(model), x)


def test_dense_conv_rgb_class_conditional_model_is_an_exact_bijection():
    model = tiny_glow(channels=3, lu=False, n_classes=3)
    assert not any(m.lu for m in model.modules() if isinstance(m, InvertibleConv1x1))
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) - 0.5
    assert_bijective(Adapter(model), x, torch.tensor([0, 2]))


def test_top_prior_depends_on_the_label():
    model = tiny_glow(n_classes=3)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) - 0.5
    same = torch.tensor([1, 1])
    assert not torch.allclose(model.log_prob(x, same), model.log_prob(x, torch.tensor([0, 2])))


def identity_glow() -> Glow:
    """Additive couplings with zero output convs, reversal permutations, zero-parameter
    ActNorms and priors: the latent is a permutation of x and every log-det is 0."""
    model = Glow(
        in_channels=1,
        n_levels=2,
        n_steps=2,
        hidden_channels=4,
        coupling="additive",
        permutation="reverse",
    ).double()
    for module in model.modules():
        if isinstance(module, ActNorm):
            module.initialized.fill_(True)
    return model


def test_bits_per_dim_matches_hand_computation():
    model = identity_glow()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64) - 0.5
    z, logdet = model(x)
    torch.testing.assert_close(logdet, torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(z.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    dims = 64
    log_density = (-0.5 * x**2 - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    for n_bits in (8, 5):
        expected = (-log_density + dims * n_bits * math.log(2)) / (dims * math.log(2))
        torch.testing.assert_close(model.bits_per_dim(x, n_bits=n_bits), expected)
    torch.testing.assert_close(model.log_prob(x), log_density)


def test_temperature_zero_sampling_is_deterministic_and_the_mode():
    model = tiny_glow()
    first = model.sample(3, temperature=0.0, generator=torch.Generator().manual_seed(1))
    second = model.sample(3, temperature=0.0, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(first[0], first[2])
    torch.testing.assert_close(model.encode(first), torch.zeros_like(first), atol=1e-10, rtol=0)
    warm = model.sample(3, temperature=0.7, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(warm[0], warm[1])


def test_encode_decode_round_trip():
    model = tiny_glow(n_classes=4)
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64) - 0.5
    y = torch.tensor([3, 0, 1])
    torch.testing.assert_close(model.decode(model.encode(x, y), y), x)


def test_class_conditional_sampling_shapes_and_labels():
    model = tiny_glow(n_classes=3)
    assert model.sample(5, 0.5, y=2).shape == (5, 1, 8, 8)
    by_class = model.sample(3, 0.0, y=torch.tensor([0, 1, 2]))
    assert not torch.allclose(by_class[0], by_class[1])
    assert model.sample(2, 0.5, y=torch.tensor([0, 1]), image_size=(16, 8)).shape == (2, 1, 16, 8)
    for bad in (3, -1, torch.tensor([0, 5])):
        with pytest.raises(WaveflowError, match=r"labels must be in \[0, 2\]"):
            model.sample(2, 0.5, y=bad)
    with pytest.raises(WaveflowError, match="labels y are required"):
        model.sample(2, 0.5)
    with pytest.raises(WaveflowError, match="integers"):
        model.sample(2, 0.5, y=torch.tensor([0.0, 1.0]))


def test_top_latent_is_the_input_of_the_top_prior_and_feeds_the_classifier():
    model = tiny_glow(channels=3, n_classes=3)
    seen = []
    for module in model.modules():
        if isinstance(module, LearnedPrior):
            module.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) - 0.5
    y = torch.tensor([1, 2])
    z, _, logits = model(x, y, with_logits=True)
    assert len(seen) == 1
    top = model.top_latent(z, model.labels_to_cond(y, 2, z.dtype))
    torch.testing.assert_close(top, seen[0])
    assert top.shape == (2, 24, 2, 2)  # 3 ch -> 12 -> kept 6 -> 24 at the top
    torch.testing.assert_close(logits, model.classifier(seen[0].mean(dim=(2, 3))))


def test_bad_inputs_raise_clear_errors():
    model = tiny_glow()
    with pytest.raises(WaveflowError, match="multiples of 2\\^n_levels = 4"):
        model(torch.zeros(1, 1, 6, 8, dtype=torch.float64))
    with pytest.raises(WaveflowError, match=r"shape \[B, 1, H, W\]"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(WaveflowError, match="NaN"):
        model(torch.full((1, 1, 8, 8), float("nan"), dtype=torch.float64))
    with pytest.raises(WaveflowError, match="unconditional"):
        model(torch.zeros(1, 1, 8, 8, dtype=torch.float64), torch.tensor([0]))
    with pytest.raises(WaveflowError, match="permutation"):
        Glow(permutation="random")
    with pytest.raises(WaveflowError, match="image_size"):
        GlowConfig(image_size=20, n_levels=3)


def test_from_config_builds_the_configured_architecture():
    config = GlowConfig(
        in_channels=1,
        image_size=16,
        n_levels=2,
        n_steps=3,
        hidden_channels=8,
        permutation="shuffle",
        n_classes=10,
    )
    model = Glow.from_config(config)
    assert model.image_size == 16 and model.n_classes == 10
    couplings = [m for m in model.modules() if type(m).__name__ == "AffineCoupling"]
    assert len(couplings) == 6 and all(c.mode == "sigmoid" for c in couplings)
    assert model.sample(2, 0.7, y=torch.tensor([3, 4])).shape == (2, 1, 16, 16)
