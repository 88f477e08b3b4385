"""Variational dequantisation (Flow++): q(u | levels) is an exact density, Glow trains and
evaluates the variational bound, and non-integer data is a one-line error."""

from __future__ import annotations

import json
import math

import pytest
import torch
from flow_checks import jacobian_logdet
from image_files import write_mnist_layout
from test_flow_library_configs import RECIPES

from waveflow.cli import main as cli_main
from waveflow.errors import WaveflowError
from waveflow.image.dequantization import VariationalDequantizer
from waveflow.image.glow import Glow, GlowConfig
from waveflow.image.pixels import dequantize, levels_of
from waveflow.image.task import GlowTask
from waveflow.train.config import load_config


def randomized_dequantizer(seed: int = 0) -> VariationalDequantizer:
    torch.manual_seed(seed)
    deq = VariationalDequantizer(1, 4, n_bits=3, hidden=4, n_couplings=2).double()
    with torch.no_grad():
        for name, p in deq.named_parameters():
            if "logs" not in name:
                p.normal_(0, 0.3)
    return deq


def test_q_is_an_exact_density_of_the_noise_in_each_bin():
    deq = randomized_dequantizer()
    levels = torch.randint(0, 8, (2, 1, 4, 4))
    eps = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    x, log_q = deq(levels, eps)
    assert torch.equal(levels_of(x, 3), levels)  # every value stays in its own bin
    # log q(u) = log N(eps) - log|det du/deps|, with u = n_bins * (x + 0.5) - levels.
    u_of_eps = lambda e, i: 8 * (deq(levels[i : i + 1], e)[0] + 0.5)  # noqa: E731
    for i in range(2):
        log_det = jacobian_logdet(lambda e, i=i: u_of_eps(e, i), eps[i : i + 1])[0]
        log_normal = -0.5 * (eps[i] ** 2).sum() - 16 * 0.5 * math.log(2 * math.pi)
        torch.testing.assert_close(log_q[i], log_normal - log_det, atol=1e-9, rtol=1e-9)


def test_q_depends_on_the_image_and_starts_near_uniform_in_the_bin():
    deq = randomized_dequantizer()
    eps = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    a = deq(torch.zeros(1, 1, 4, 4, dtype=torch.long), eps)[0]
    b = deq(torch.full((1, 1, 4, 4), 7), eps)[0]
    assert not torch.allclose((a + 0.5) * 8, (b + 0.5) * 8 - 7)
    fresh = VariationalDequantizer(1, 4, n_bits=3)
    x, log_q = fresh(torch.randint(0, 8, (64, 1, 4, 4)))
    u = (x + 0.5) * 8 - levels_of(x, 3)
    assert 0.4 < float(u.detach().mean()) < 0.6 and torch.isfinite(log_q).all()


@pytest.mark.parametrize(
    "levels,message",
    [
        (torch.tensor([[0.25, 3.0]]), "data must be integer levels in \\[0, 8\\), got non-integer "
         "value 0.25"),
        (torch.tensor([[0, 9]]), "data must be integer levels in \\[0, 8\\) for n_bits=3, got "
         "values in \\[0, 9\\]"),
    ],
)  # fmt: skip
def test_dequantizing_non_integer_or_out_of_range_data_is_a_one_line_error(levels, message):
    with pytest.raises(WaveflowError, match="dequantization: " + message) as info:
        dequantize(levels, 3)
    assert "\n" not in str(info.value)
    deq = VariationalDequantizer(1, 2, n_bits=3)
    with pytest.raises(WaveflowError, match="variational dequantization: " + message):
        deq(levels.view(1, 1, 1, 2).expand(1, 1, 2, 2))


def test_glow_trains_the_variational_bound_and_reports_it_as_bits_per_dim():
    torch.manual_seed(0)
    glow = Glow(in_channels=1, n_levels=1, n_steps=1, hidden_channels=8, image_size=4, n_bits=3,
                dequantization="variational", dequant_hidden=4)  # fmt: skip
    levels = torch.randint(0, 8, (8, 1, 4, 4))
    x = dequantize(levels, 3)
    glow.initialize(x)
    metrics = GlowTask().loss(glow, (x, torch.zeros(8, dtype=torch.long)), GlowTask.loss_config())
    metrics["loss"].backward()
    grads = [p.grad for p in glow.dequantizer.parameters() if p.grad is not None]
    assert sum(float(g.abs().sum()) for g in grads) > 0  # the bound trains q too
    with torch.no_grad():
        torch.manual_seed(1)
        bpd = glow.bits_per_dim(x)
        torch.manual_seed(1)
        x_q, log_q = glow.dequantize(x)
        expected = (-(glow.log_prob(x_q) - log_q) + 16 * math.log(8)) / (16 * math.log(2))
    torch.testing.assert_close(bpd, expected)
    assert torch.equal(levels_of(x_q, 3), levels)
    with pytest.raises(WaveflowError, match="variational needs model.image_size"):
        GlowConfig(dequantization="variational", image_size=None)


def test_variational_recipe_config_trains_a_few_steps(tmp_path, capsys):
    data = tmp_path / "data"
    write_mnist_layout(data, n_train=16, n_test=8)
    path = RECIPES / "fashion_mnist" / "conf" / "glow_vardeq.yaml"
    assert load_config(path).model.dequantization == "variational"
    args = [
        "train", "--config", str(path), "--exp-dir", str(tmp_path / "exp"), f"data.root={data}",
        "data.n_valid=8", "train.steps=2", "train.batch_size=4", "train.init_batch_size=8",
        "train.valid_every=0", "train.ckpt_every=2", "train.media_every=0", "train.log_every=1",
        "model.n_steps=1", "model.hidden_channels=8", "model.dequant_hidden=4", "train.device=cpu",
    ]  # fmt: skip
    assert cli_main(args) == 0, capsys.readouterr().err[-2000:]
    capsys.readouterr()
    checkpoint = sorted((tmp_path / "exp").glob("**/*.pt"))[-1]
    out_json = tmp_path / "bpd.json"
    evaluate = ["evaluate", "--checkpoint", str(checkpoint), "--json", str(out_json),
                "--device", "cpu"]  # fmt: skip
    assert cli_main(evaluate) == 0, capsys.readouterr().err[-2000:]
    assert "(variational-dequantization bound)" in capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert result["dequantization"] == "variational" and math.isfinite(result["bits_per_dim"])
