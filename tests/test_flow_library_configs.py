"""Spline, MAF and mixture-base flows from configs: the toy2d and Glow tasks build them exactly
(float64) and train a few steps from the recipe configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from flow_checks import assert_bijective
from image_files import write_mnist_layout

from waveflow.bijectors import GaussianMixture, MaskedAutoregressive, SplineCoupling
from waveflow.cli import main as cli_main
from waveflow.errors import WaveflowError
from waveflow.image.glow import Glow, GlowConfig
from waveflow.toy.model import Toy2DConfig, Toy2DFlow
from waveflow.train.config import load_config

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TOY_CONFS = ["spline_checkerboard", "maf_moons", "maf_spline_checkerboard"]


def randomize(model: torch.nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g, dtype=p.dtype))


@pytest.mark.parametrize(
    "flow,coupling,prior,layer",
    [
        ("realnvp", "spline", "gaussian", SplineCoupling),
        ("maf", "affine", "mixture", MaskedAutoregressive),
        ("maf", "spline", "mixture", MaskedAutoregressive),
    ],
)
def test_toy_spline_and_maf_flows_are_exact_in_float64(flow, coupling, prior, layer):
    torch.manual_seed(0)
    cfg = Toy2DConfig(
        flow=flow, coupling=coupling, prior=prior, norm="act", n_couplings=3,
        hidden_features=8, n_bins=4, tail_bound=2.0, n_components=3,
    )  # fmt: skip
    model = Toy2DFlow(cfg).double()
    assert any(isinstance(m, layer) for m in model.modules())
    assert isinstance(model.flow.base, GaussianMixture) == (prior == "mixture")
    x = 1.5 * torch.randn(5, 2, dtype=torch.float64)
    model.initialize(x)
    randomize(model)
    model.eval()
    assert_bijective(model.flow.transform, x)
    z, logdet = model(x)
    torch.testing.assert_close(model.log_prob(x), model.flow.base.log_prob(z) + logdet)
    assert model.sample(7).shape == (7, 2)


def test_bad_toy_flow_options_are_errors():
    with pytest.raises(WaveflowError, match="model.n_bins must be > 0, got 0"):
        Toy2DConfig(coupling="spline", n_bins=0)
    with pytest.raises(WaveflowError, match="model.n_components must be > 0, got 0"):
        Toy2DConfig(prior="mixture", n_components=0)
    with pytest.raises(WaveflowError, match="model.tail_bound must be > 0, got -1"):
        Toy2DConfig(coupling="spline", tail_bound=-1.0)
    with pytest.raises(WaveflowError, match="maf transforms are affine or spline"):
        Toy2DConfig(flow="maf", coupling="additive")


@pytest.mark.parametrize("conf", TOY_CONFS)
def test_toy_recipe_configs_build_and_train_a_few_steps(conf, tmp_path, capsys):
    path = RECIPES / "toy2d" / "conf" / f"{conf}.yaml"
    config = load_config(path)
    assert config.task == "toy2d"
    args = [
        "train", "--config", str(path), "--exp-dir", str(tmp_path), "train.steps=4",
        "data.n_train=256", "data.n_valid=64", "train.batch_size=32", "train.init_batch_size=64",
        "train.valid_every=0", "train.ckpt_every=0", "train.log_every=1",
        "model.hidden_features=16",
    ]  # fmt: skip
    assert cli_main(args) == 0, capsys.readouterr().err[-2000:]
    assert list(tmp_path.glob("**/*.pt")), "training wrote no checkpoint"


def test_glow_spline_coupling_and_householder_are_exact_in_float64():
    torch.manual_seed(0)
    model = Glow(
        in_channels=1, n_levels=2, n_steps=2, hidden_channels=6, coupling="spline",
        permutation="householder", image_size=8, spline_bins=4, spline_bound=1.0,
    ).double()  # fmt: skip
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) - 0.5
    model.initialize(x)
    with torch.no_grad():
        for name, p in model.named_parameters():  # moderate: deep float64 chains stay exact
            if "conv_out.conv" in name or "prior_net.conv" in name:
                p.normal_(0, 0.1)
    assert sum(isinstance(m, SplineCoupling) for m in model.modules()) == 4
    assert_bijective(model.flow.transform, x)


def test_bad_glow_spline_options_are_errors():
    with pytest.raises(WaveflowError, match="model.spline_bins and model.spline_bound must be"):
        GlowConfig(coupling="spline", spline_bins=0)


def test_glow_spline_recipe_config_trains_a_few_steps(tmp_path, capsys):
    data = tmp_path / "data"
    write_mnist_layout(data, n_train=16, n_test=8)
    path = RECIPES / "fashion_mnist" / "conf" / "glow_spline.yaml"
    assert load_config(path).model.coupling == "spline"
    args = [
        "train", "--config", str(path), "--exp-dir", str(tmp_path / "exp"), f"data.root={data}",
        "data.n_valid=8", "train.steps=2", "train.batch_size=4", "train.init_batch_size=8",
        "train.valid_every=0", "train.ckpt_every=0", "train.media_every=0", "train.log_every=1",
        "model.n_steps=1", "model.hidden_channels=8", "train.device=cpu",
    ]  # fmt: skip
    assert cli_main(args) == 0, capsys.readouterr().err[-2000:]
