"""The image recipes (recipes/fashion_mnist, recipes/cifar10) end to end on tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_files import write_cifar, write_mnist_layout
from PIL import Image

from waveflow.train.config import load_config

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TINY = (
    "model.n_levels=2 model.n_steps=2 model.hidden_channels=8 data.n_valid=4 "
    "train.steps=3 train.batch_size=4 train.init_batch_size=8 train.valid_every=0 "
    "train.ckpt_every=0 train.media_every=0 train.warmup_steps=1 train.log_every=1"
)


def run_recipe(name: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, WAVEFLOW=str(Path(sys.executable).parent / "waveflow"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["bash", str(RECIPES / name / "run.sh"), *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_fashion_mnist_recipe_trains_evaluates_and_samples(tmp_path: Path) -> None:
    data, exp = tmp_path / "fm", tmp_path / "exp"
    write_mnist_layout(data, n_train=24, n_test=20)
    result = run_recipe(
        "fashion_mnist", "--stage", "1", "--stop-stage", "3", "--db-root", str(data),
        "--exp", str(exp), "--train-args", TINY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((exp / "test_bpd.json").read_text())
    assert report["images"] == 20 and 0 < report["bits_per_dim"] < 100
    pngs = sorted(p.name for p in (exp / "samples").glob("*.png"))
    assert pngs == [
        "interpolation.png", "manipulation.png",
        "samples_T0.5.png", "samples_T0.7.png", "samples_T0.png", "samples_T1.png",
    ]  # fmt: skip
    with Image.open(exp / "samples" / "samples_T0.7.png") as png:
        assert png.mode == "L"


def test_cifar10_recipe_trains_evaluates_and_samples(tmp_path: Path) -> None:
    data, exp = tmp_path / "cifar", tmp_path / "exp"
    write_cifar(data, n=24)
    result = run_recipe(
        "cifar10", "--stage", "1", "--stop-stage", "3", "--db-root", str(data),
        "--exp", str(exp), "--device", "cpu",
        "--train-args", TINY + " model.n_levels=2 train.num_workers=0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((exp / "test_bpd.json").read_text())["images"] == 24
    with Image.open(exp / "samples" / "samples_T0.7.png") as png:
        assert png.mode == "RGB"


def test_image_recipe_rejects_unknown_options() -> None:
    result = run_recipe("fashion_mnist", "--stgae", "1")
    assert result.returncode != 0 and "unknown option --stgae" in result.stderr


@pytest.mark.parametrize(
    "conf",
    [
        "fashion_mnist/conf/glow_small.yaml",
        "cifar10/conf/glow.yaml",
        "cifar10/conf/glow_cond.yaml",
    ],
)
def test_image_recipe_configs_load_without_unknown_keys(conf: str) -> None:
    config = load_config(RECIPES / conf)
    assert config.task == "glow"
    assert config.model.image_size % 2**config.model.n_levels == 0
