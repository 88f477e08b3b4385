"""`waveflow train` on the command line: config file, overrides, flags, --resume, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from waveflow.checkpoint import load_checkpoint
from waveflow.cli import main
from waveflow.train.rotation import list_checkpoints

TOY_TASK = "engine_stand_in:ToyTask"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    config = {
        "task": TOY_TASK,
        "model": {"hidden": 4},
        "train": {"steps": 3, "batch_size": 4, "num_workers": 0, "log_every": 1,
                  "valid_every": 0, "ckpt_every": 0, "media_every": 0},
    }  # fmt: skip
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_then_resume_with_more_steps(tmp_path: Path, config_file: Path) -> None:
    exp = tmp_path / "exp"
    args = ["train", "--config", str(config_file), "--exp-dir", str(exp), "--device", "cpu"]
    assert main([*args, "train.lr=3e-3", "--dtype", "bf16"]) == 0
    first = load_checkpoint(exp / "ckpt_00000003.pt")
    assert first["config"]["train"]["lr"] == 3e-3
    assert first["config"]["train"]["dtype"] == "bf16"
    assert first["config"]["train"]["exp_dir"] == str(exp)
    assert yaml.safe_load((exp / "config.yaml").read_text())["model"]["hidden"] == 4

    assert main([*args, "--resume", "train.steps=5"]) == 0
    assert [p.name for p in list_checkpoints(exp)] == ["ckpt_00000003.pt", "ckpt_00000005.pt"]
    assert load_checkpoint(exp / "ckpt_00000005.pt")["step"] == 5


def test_errors_are_one_line_with_exit_code_1(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--config", str(config_file), "--exp-dir", str(tmp_path / "exp")]
    assert main([*args, "train.lerning_rate=1e-3"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "waveflow train: error: unknown key 'train.lerning_rate' (did you mean 'train.lr'?)\n"
    )
    assert main([*args, "--resume", str(tmp_path / "nothing.pt")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "exp").exists() or not list_checkpoints(tmp_path / "exp")
