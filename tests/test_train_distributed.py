"""A real 2-process DistributedDataParallel run (gloo, CPU) launched with torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from engine_stand_in import ToyTask

from waveflow import task as registry
from waveflow.checkpoint import load_checkpoint, load_model
from waveflow.train.engine import train

TESTS_DIR = Path(__file__).resolve().parent
TOY_TASK = "engine_stand_in:ToyTask"  # importable by the torchrun workers via PYTHONPATH


def toy_config(exp_dir: Path, batch_size: int, accumulate: int = 1) -> dict:
    return {
        "task": TOY_TASK,
        "data": {"num_train": 48},  # whole epochs for 16-example steps
        "loss": {"noise": 0.0},
        "train": {
            "exp_dir": str(exp_dir),
            "steps": 6,
            "batch_size": batch_size,
            "accumulate": accumulate,
            "init_batch_size": 8,
            "num_workers": 0,
            "lr": 1e-2,
            "log_every": 2,
            "valid_every": 3,
            "ckpt_every": 3,
            "media_every": 0,
            "device": "cpu",
        },
    }


@pytest.mark.slow
@pytest.mark.parametrize("accumulate", [1, 2])
def test_two_process_gloo_run_matches_one_process_with_the_global_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accumulate: int
) -> None:
    config_path = tmp_path / "ddp.yaml"
    per_micro_batch = 8 // accumulate
    config = toy_config(tmp_path / "ddp", batch_size=per_micro_batch, accumulate=accumulate)
    config_path.write_text(yaml.safe_dump(config))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "waveflow.cli", "train", "--config", str(config_path),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.count("done at step 6") == 1, "only rank 0 logs"
    assert "2 process(es)" in done.stdout

    ddp = load_checkpoint(tmp_path / "ddp" / "ckpt_00000006.pt")
    assert ddp["step"] == 6 and len(ddp["rng"]) == 2
    # a plug-in task loads from a checkpoint only once the user has registered it
    monkeypatch.setitem(registry.TASKS, TOY_TASK, ToyTask)
    model, _ = load_model(tmp_path / "ddp" / "ckpt_00000006.pt")
    assert all(torch.isfinite(p).all() for p in model.parameters())

    # Two ranks x 8 examples (in `accumulate` micro-batches, all-reduced once) average their
    # gradients: the same update as one process with 16.
    single = train(toy_config(tmp_path / "single", batch_size=16))
    reference = load_checkpoint(tmp_path / "single" / "ckpt_00000006.pt")
    for name, value in reference["model"].items():
        assert torch.allclose(ddp["model"][name], value, atol=1e-5), name
    assert ddp["best_valid"] == pytest.approx(single["best_valid_loss"], abs=1e-5)
