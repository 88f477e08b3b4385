"""Base distributions (Gaussian mixture, class-conditional Gaussian, uniform) and the
Householder layer: exact densities against torch.distributions, sampling, errors (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from flow_checks import assert_bijective
from torch import distributions as D

from waveflow.bijectors import (
    ClassConditionalGaussian,
    Flow,
    GaussianMixture,
    Householder,
    MaskedAutoregressive,
    Uniform,
    base_distribution,
)


def test_mixture_log_prob_is_the_exact_mixture_density():
    torch.manual_seed(0)
    mix = GaussianMixture(3, (2,)).double()
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([0.2, -1.0, 0.5]))
        mix.log_stds.copy_(0.3 * torch.randn(3, 2))
    z = torch.randn(6, 2, dtype=torch.float64)
    reference = D.MixtureSameFamily(
        D.Categorical(logits=mix.logits),
        D.Independent(D.Normal(mix.means, mix.log_stds.exp()), 1),
    )
    torch.testing.assert_close(mix.log_prob(z), reference.log_prob(z).detach())
    tempered = D.MixtureSameFamily(
        D.Categorical(logits=mix.logits),
        D.Independent(D.Normal(mix.means, 0.5 * mix.log_stds.exp()), 1),
    )
    torch.testing.assert_close(mix.log_prob(z, sigma=0.5), tempered.log_prob(z).detach())


def test_mixture_samples_follow_the_weights_and_components():
    mix = GaussianMixture(2, (1,))
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([math.log(3.0), 0.0]))  # weights 0.75, 0.25
        mix.means.copy_(torch.tensor([[-5.0], [5.0]]))
        mix.log_stds.fill_(math.log(0.5))
    z = mix.sample((20000, 1), generator=torch.Generator().manual_seed(0))
    assert (z < 0).float().mean().item() == pytest.approx(0.75, abs=0.02)
    assert z[z < 0].std().item() == pytest.approx(0.5, abs=0.03)
    modes = mix.sample((5, 1), sigma=0.0)
    assert set(modes.flatten().tolist()) <= {-5.0, 5.0}


def test_class_conditional_gaussian_scores_each_class_with_its_own_gaussian():
    base = ClassConditionalGaussian(3, (2, 2)).double()
    with torch.no_grad():
        base.means.copy_(torch.randn(3, 2, 2))
        base.log_stds.copy_(0.2 * torch.randn(3, 2, 2))
    labels = torch.tensor([2, 0, 1, 2])
    z = torch.randn(4, 2, 2, dtype=torch.float64)
    expected = D.Independent(D.Normal(base.means[labels], base.log_stds[labels].exp()), 2)
    torch.testing.assert_close(base.log_prob(z, cond=labels), expected.log_prob(z).detach())
    one_hot = torch.nn.functional.one_hot(labels, 3).double()
    torch.testing.assert_close(base.log_prob(z, cond=one_hot), base.log_prob(z, cond=labels))
    samples = base.sample((4, 2, 2), sigma=0.0, cond=labels, dtype=torch.float64)
    torch.testing.assert_close(samples, base.means[labels].detach())


def test_a_conditional_flow_passes_cond_to_its_class_conditional_base():
    torch.manual_seed(0)
    flow = Flow(MaskedAutoregressive(2, 8, cond_features=3), ClassConditionalGaussian(3, 2))
    flow = flow.double()
    with torch.no_grad():
        flow.base.means.copy_(torch.randn(3, 2))
    x = torch.randn(5, 2, dtype=torch.float64)
    cond = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1]), 3).double()
    z, logdet = flow(x, cond)
    torch.testing.assert_close(flow.log_prob(x, cond), flow.base.log_prob(z, cond=cond) + logdet)
    assert flow.sample((5, 2), cond=cond).shape == (5, 2)


def test_uniform_is_exact_inside_the_box_and_zero_outside():
    base = Uniform(-2.0, 2.0)
    z = torch.tensor([[0.0, 1.9], [2.5, 0.0]], dtype=torch.float64)
    assert base.log_prob(z)[0].item() == pytest.approx(-2 * math.log(4.0))
    assert base.log_prob(z)[1].item() == -math.inf
    samples = base.sample((5000, 3), generator=torch.Generator().manual_seed(0))
    assert samples.min() >= -2 and samples.max() <= 2
    assert samples.mean().item() == pytest.approx(0.0, abs=0.05)
    assert base.log_prob(torch.zeros(1, 1), sigma=0.5).item() == pytest.approx(-math.log(2.0))


def test_config_bases_and_bad_bases_are_one_line_errors():
    assert isinstance(base_distribution("mixture", event_shape=(2,), n_components=4),
                      GaussianMixture)  # fmt: skip
    for bad, message in (
        (lambda: GaussianMixture(0, (2,)), "GaussianMixture: n_components must be a positive "
         "integer, got 0"),
        (lambda: base_distribution("mixture", event_shape=(2,), n_components=0),
         "n_components must be a positive integer, got 0"),
        (lambda: ClassConditionalGaussian(0, 2), "n_classes must be a positive integer, got 0"),
        (lambda: Uniform(1.0, 1.0), "Uniform: need finite low < high"),
        (lambda: GaussianMixture(2, (2,)).log_prob(torch.zeros(3, 3)),
         r"expected latents of shape \[B, 2\], got \[3, 3\]"),
        (lambda: ClassConditionalGaussian(2, 2).log_prob(torch.zeros(3, 2)),
         "cond .* is required"),
        (lambda: ClassConditionalGaussian(2, 2).log_prob(torch.zeros(1, 2), cond=torch.tensor([5])),
         r"labels must be \[1\] integers in \[0, 2\)"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=message) as info:
            bad()
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 5), (2, 4, 3, 3)])
def test_householder_is_an_exact_volume_preserving_bijection(shape):
    layer = Householder(4, n_reflections=3).double()
    q = layer.matrix()
    torch.testing.assert_close(q @ q.T, torch.eye(4, dtype=torch.float64))
    x = torch.randn(shape, dtype=torch.float64)
    assert_bijective(layer, x)
    y, _ = layer(x)
    assert not torch.allclose(y, x)


def test_householder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="Householder: num_channels and n_reflections must be"):
        Householder(4, n_reflections=0)
    with pytest.raises(ValueError, match=r"Householder: expected input of shape \[B, 4, ...\]"):
        Householder(4)(torch.zeros(2, 3))
