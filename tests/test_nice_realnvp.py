"""NICE and RealNVP image presets: exact in float64, built from the YAML presets and the Python
API, trained a few steps, used by the CLI (train, evaluate, sample), and bad options rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from flow_checks import assert_bijective
from image_files import fashion_mnist_root, write_mnist_layout

from waveflow.bijectors import BatchNorm, MaskedCoupling
from waveflow.checkpoint import load_model
from waveflow.cli import main as cli_main
from waveflow.errors import WaveflowError
from waveflow.image.data import ImageDataConfig, build_image_datasets
from waveflow.image.flow_tasks import NICETask, RealNVPTask
from waveflow.image.nice import NICE, NICEConfig
from waveflow.image.realnvp import RealNVP, RealNVPConfig
from waveflow.task import get_task
from waveflow.train.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "recipes" / "fashion_mnist" / "conf"


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def test_nice_is_exact_in_float64():
    model = NICE(NICEConfig(image_size=4, hidden_features=6, n_hidden_layers=2, n_couplings=3))
    model = _randomise(model.double(), 0)
    x = torch.rand(2, 1, 4, 4, dtype=torch.float64) - 0.5
    assert_bijective(model.flow.transform, x)
    z, logdet = model(x)
    # additive couplings are volume preserving: the log-det is the scaling layer's alone
    torch.testing.assert_close(logdet, model.flow.transform[-3].log_scale.sum().expand(2))


@pytest.mark.parametrize(
    "coupling,norm", [("affine", "batch"), ("affine", "act"), ("additive", "none")]
)
def test_realnvp_is_exact_in_float64(coupling, norm):
    cfg = RealNVPConfig(
        in_channels=1, image_size=8, n_bits=5, n_scales=2, n_checkerboard=2, n_channelwise=2,
        n_final=2, hidden_channels=4, coupling=coupling, norm=norm,
    )  # fmt: skip
    torch.manual_seed(0)
    model = RealNVP(cfg).double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) - 0.5
    model.initialize(x)  # ActNorm data-dependent init (BatchNorm: one running-stat update)
    model = _randomise(model, 1).eval()
    assert_bijective(model.flow.transform, x)
    kinds = {type(m).__name__ for m in model.modules()}
    assert "MaskedCoupling" in kinds and "AffineCoupling" in kinds and "Split" in kinds
    assert ("BatchNorm" in kinds) == (norm == "batch") and ("ActNorm" in kinds)


def test_realnvp_uses_both_checkerboard_parities_and_tanh_scales():
    model = RealNVP(RealNVPConfig(in_channels=1, image_size=8, hidden_channels=4))
    masks = [m.mask for m in model.modules() if isinstance(m, MaskedCoupling)]
    assert len(masks) == 3 + 4
    assert masks[0][0, 0, 0] == 1 and masks[1][0, 0, 0] == 0
    assert {m.mode for m in model.modules() if isinstance(m, MaskedCoupling)} == {"tanh"}
    assert sum(isinstance(m, BatchNorm) for m in model.modules()) == 3 + 3 + 4


@pytest.mark.parametrize("preset", ["nice.yaml", "realnvp.yaml"])
def test_presets_load_and_build(preset):
    config = load_config(CONF / preset)
    task = get_task(config.task)
    model = task.build_model(config.model)
    assert isinstance(model, NICE if config.task == "nice" else RealNVP)
    assert model.image_size == config.model.image_size and model.n_classes is None
    x = torch.rand(2, 1, model.image_size, model.image_size) - 0.5
    model.initialize(x)
    assert model.bits_per_dim(x).shape == (2,)


@pytest.mark.parametrize("task_cls", [NICETask, RealNVPTask])
def test_python_api_few_steps_lower_bits_per_dim(task_cls, tmp_path):
    torch.manual_seed(0)
    task = task_cls()
    if task_cls is NICETask:
        cfg = NICEConfig(image_size=28, n_bits=5, hidden_features=64, n_hidden_layers=2)
    else:
        cfg = RealNVPConfig(in_channels=1, image_size=32, n_bits=5, n_checkerboard=2,
                            n_channelwise=2, n_final=2, hidden_channels=8)  # fmt: skip
    model = task.build_model(cfg)
    data_cfg = ImageDataConfig(
        dataset="fashion_mnist", root=str(fashion_mnist_root(tmp_path)), n_valid=64, max_train=512
    )
    train_set, valid_set = build_image_datasets(data_cfg, 1, cfg.image_size, 5)
    valid_set.noise = False
    valid_batch = (torch.stack([valid_set[i][0] for i in range(64)]), valid_set.labels[:64])
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True)
    task.initialize(model, next(iter(loader)), task.loss_config())
    model.eval()
    with torch.no_grad():
        before = task.loss(model, valid_batch, task.loss_config())["bits_per_dim"].item()
    model.train()
    # NICE starts as the identity and learns slowly at first (volume changes only through
    # its scaling layer): a larger step, more steps and a smaller required gain
    nice = task_cls is NICETask
    lr, last_step, gain = (1e-2, 19, 0.1) if nice else (3e-3, 11, 0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for step, batch in enumerate(loader):
        optimizer.zero_grad()
        task.loss(model, batch, task.loss_config())["loss"].backward()
        optimizer.step()
        if step == last_step:
            break
    model.eval()
    with torch.no_grad():
        after = task.loss(model, valid_batch, task.loss_config())["bits_per_dim"].item()
    assert after < before - gain, (before, after)
    assert torch.isfinite(model.sample(2, 0.7)).all()


def _waveflow(capsys, *args: str) -> tuple[int, str]:
    """Run the `waveflow` command line in this process: (exit code, stderr)."""
    capsys.readouterr()
    code = cli_main(list(args))
    return code, capsys.readouterr().err


TINY = {
    "nice.yaml": ["model.hidden_features=8", "model.n_hidden_layers=1"],
    "realnvp.yaml": ["model.hidden_channels=4", "model.n_checkerboard=1", "model.n_channelwise=1",
                     "model.n_final=1"],
}  # fmt: skip


@pytest.mark.parametrize("preset", ["nice.yaml", "realnvp.yaml"])
def test_cli_trains_evaluates_and_samples_a_preset(preset, tmp_path, capsys):
    data, exp = tmp_path / "fm", tmp_path / "exp"
    write_mnist_layout(data, n_train=24, n_test=12)
    code, err = _waveflow(
        capsys,
        "train", "--config", str(CONF / preset), "--exp-dir", str(exp), f"data.root={data}",
        "data.n_valid=4", "train.steps=2", "train.batch_size=4", "train.init_batch_size=8",
        "train.valid_every=0", "train.ckpt_every=0", "train.media_every=0",
        "train.warmup_steps=1", "train.log_every=1", *TINY[preset],
    )  # fmt: skip
    assert code == 0, err[-2000:]
    ckpt = next(exp.glob("ckpt_*.pt"))
    model, meta = load_model(ckpt)
    assert meta["task"] == preset.removesuffix(".yaml")
    code, err = _waveflow(
        capsys,
        "evaluate", "--checkpoint", str(ckpt), "--data-root", str(data), "--json",
        str(tmp_path / "bpd.json"),
    )  # fmt: skip
    assert code == 0, err[-2000:]
    report = json.loads((tmp_path / "bpd.json").read_text())
    assert report["images"] == 12 and 0 < report["bits_per_dim"] < 100
    code, err = _waveflow(
        capsys,
        "sample", "--checkpoint", str(ckpt), "--out", str(tmp_path / "s"), "--n", "4",
        "--temperatures", "0.5,1", "--interpolate", "--data-root", str(data),
    )  # fmt: skip
    assert code == 0, err[-2000:]
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == [
        "interpolation.png", "samples_T0.5.png", "samples_T1.png",
    ]  # fmt: skip


BAD = [
    ("nice.yaml", "model.coupling=affine", "model.coupling: NICE uses additive coupling"),
    ("nice.yaml", "model.image_size=27", "model.image_size 27: NICE splits"),
    ("nice.yaml", "model.prior=cauchy", "model.prior"),
    ("realnvp.yaml", "model.image_size=30", "model.image_size 30: checkerboard masks"),
    ("realnvp.yaml", "model.n_scales=6", "divisible by 2^n_scales = 64"),
    ("realnvp.yaml", "model.norm=layer", "model.norm"),
]


@pytest.mark.parametrize("preset,override,message", BAD)
def test_incompatible_options_are_one_line_errors(preset, override, message, tmp_path, capsys):
    code, err = _waveflow(
        capsys, "train", "--config", str(CONF / preset), "--exp-dir", str(tmp_path), override
    )
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and message in lines[0], err


def test_python_constructors_reject_incompatible_options():
    with pytest.raises(WaveflowError, match="model.coupling: NICE uses additive coupling"):
        NICEConfig(coupling="affine")
    with pytest.raises(WaveflowError, match="model.image_size 12: checkerboard"):
        RealNVPConfig(image_size=12, n_scales=3)
    model = RealNVP(RealNVPConfig(in_channels=1, image_size=8, hidden_channels=4))
    with pytest.raises(WaveflowError, match=r"RealNVP: expected input of shape \[B, 1, 8, 8\]"):
        model(torch.zeros(2, 1, 16, 16))
    with pytest.raises(WaveflowError, match="unconditional"):
        model(torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long))
