"""The 2-D toy task: data, exact NICE/RealNVP flows on [B, 2], training, plots, CLI, errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from flow_checks import assert_bijective
from PIL import Image

from waveflow.cli import main as cli_main
from waveflow.errors import WaveflowError
from waveflow.toy.data import Toy2DDataConfig, build_point_datasets, make_points
from waveflow.toy.model import Toy2DConfig, Toy2DFlow
from waveflow.toy.plots import density_grid, mean_nll, write_toy_plots
from waveflow.toy.task import Toy2DTask

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "toy2d"


def test_toy_points_have_the_expected_shapes_and_support():
    rng = np.random.default_rng(0)
    board = make_points("checkerboard", 5000, rng)
    assert board.shape == (5000, 2) and board.dtype == np.float32
    assert np.abs(board).max() <= 4.0
    cells = np.floor(board / 2)
    assert np.all((cells[:, 0] - cells[:, 1]) % 2 == 0)  # only the dark squares
    moons = make_points("moons", 4000, rng, noise=0.0)
    upper = moons[:2000] / 1.6 + [0.5, 0.25]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-5)
    train, valid = build_point_datasets(Toy2DDataConfig(n_train=100, n_valid=50))
    again, _ = build_point_datasets(Toy2DDataConfig(n_train=100, n_valid=50))
    assert torch.equal(train.points, again.points) and len(valid) == 50
    assert not torch.equal(train.points[:50], valid.points)


@pytest.mark.parametrize(
    "flow,norm,prior",
    [("nice", None, "logistic"), ("realnvp", "batch", "gaussian"), ("realnvp", "act", "logistic")],
)
def test_toy_flows_are_exact_in_float64(flow, norm, prior):
    torch.manual_seed(0)
    cfg = Toy2DConfig(flow=flow, norm=norm, prior=prior, n_couplings=4, hidden_features=8)
    model = Toy2DFlow(cfg).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    model.initialize(x)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    model.eval()
    assert_bijective(model.flow.transform, x)
    z, logdet = model(x)
    torch.testing.assert_close(model.log_prob(x), model.flow.base.log_prob(z) + logdet)


def test_a_fresh_flow_is_the_base_density_on_the_plot_grid():
    model = Toy2DFlow(Toy2DConfig(flow="realnvp", norm="none")).eval()  # zero-init couplings
    axis, density = density_grid(model, (-4.0, 4.0), resolution=81)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    expected = torch.exp(-(xx**2 + yy**2) / 2) / (2 * math.pi)
    torch.testing.assert_close(density, expected, atol=1e-6, rtol=1e-4)
    assert density.sum().item() * (axis[1] - axis[0]).item() ** 2 == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("flow,gain", [("realnvp", 0.5), ("nice", 0.2)])
def test_python_api_training_lowers_held_out_nll(flow, gain, tmp_path):
    torch.manual_seed(0)
    task = Toy2DTask()
    model = task.build_model(Toy2DConfig(flow=flow, n_couplings=4, hidden_features=32))
    train, valid = task.build_datasets(Toy2DDataConfig(n_train=4096, n_valid=512), None)
    task.initialize(model, train.points[:512], task.loss_config())
    before = mean_nll(model, valid)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        batch = train.points[torch.randint(len(train), (256,), generator=g)]
        optimizer.zero_grad()
        task.loss(model, batch, task.loss_config())["loss"].backward()
        optimizer.step()
    after = mean_nll(model, valid)
    assert after < before - gain, (before, after)
    paths = write_toy_plots(model, valid, tmp_path, n_samples=300, resolution=40)
    for path in paths:
        with Image.open(path) as png:
            assert png.size[0] >= 300


def test_incompatible_toy_options_are_errors(tmp_path, capsys):
    with pytest.raises(WaveflowError, match="model.coupling: NICE uses additive coupling"):
        Toy2DConfig(flow="nice", coupling="affine")
    with pytest.raises(WaveflowError, match="model.norm: NICE has no normalisation"):
        Toy2DConfig(flow="nice", norm="batch")
    with pytest.raises(WaveflowError, match=r"expected points of shape \[B, 2\]"):
        Toy2DFlow()(torch.zeros(3, 3))
    conf = RECIPE / "conf" / "nice_moons.yaml"
    code = cli_main(["train", "--config", str(conf), "--exp-dir", str(tmp_path), "model.norm=act"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "model.norm" in err[0]


def test_toy_recipe_trains_and_plots(tmp_path):
    env = dict(os.environ, WAVEFLOW=str(Path(sys.executable).parent / "waveflow"))
    env["PYTHONPATH"] = str(RECIPE.parents[1])
    result = subprocess.run(
        ["bash", str(RECIPE / "run.sh"), "--conf", "conf/nice_checkerboard.yaml", "--exp",
         str(tmp_path / "exp"), "--n-samples", "200", "--train-args",
         "train.steps=5 data.n_train=256 data.n_valid=64 train.batch_size=32 "
         "train.init_batch_size=64 train.valid_every=0 train.ckpt_every=0 train.log_every=1"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    plots = tmp_path / "exp" / "plots"
    assert sorted(p.name for p in plots.glob("*.png")) == ["density.png", "samples.png"]
    assert "held-out NLL:" in (tmp_path / "exp" / "plots.log").read_text()
