"""End-to-end tests of the training loop on the toy flow task (CPU, a few steps each)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from test_train_toy_task import ToyTask

from waveflow import task as registry
from waveflow.checkpoint import load_checkpoint
from waveflow.train.checkpoint import latest_checkpoint, list_checkpoints
from waveflow.train.engine import TrainingDiverged, train


@pytest.fixture(autouse=True)
def toy_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)
    ToyTask.losses.clear()


def toy_config(exp_dir: Path, **train: object) -> dict:
    settings = {
        "exp_dir": str(exp_dir),
        "steps": 12,
        "batch_size": 8,
        "num_workers": 0,
        "lr": 1e-2,
        "log_every": 4,
        "valid_every": 3,
        "ckpt_every": 5,
        "media_every": 0,
        "device": "cpu",
    }
    settings.update(train)
    data = settings.pop("data", {})
    return {"task": "toy", "model": {"dim": 4, "hidden": 8}, "data": data, "train": settings}


def test_a_few_steps_lower_the_loss(tmp_path: Path) -> None:
    result = train(toy_config(tmp_path, steps=40, valid_every=40, ckpt_every=0))
    first, last = ToyTask.losses[:5], ToyTask.losses[-5:]
    assert sum(last) / 5 < sum(first) / 5 - 0.3
    assert result["step"] == 40
    assert math.isfinite(result["valid/loss"]) and result["valid/loss"] == result["best_valid_loss"]
    assert (tmp_path / "config.yaml").is_file()
    assert (tmp_path / "best.pt").is_file()
    assert any((tmp_path / "tb").iterdir())


def test_resumed_run_repeats_the_uninterrupted_losses_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = {"warmup_steps": 3, "lr_decay": "cosine", "lr_min_ratio": 0.1}
    train(toy_config(tmp_path / "full", **schedule))
    uninterrupted = list(ToyTask.losses)
    assert len(uninterrupted) == 12

    class CrashingToyTask(ToyTask):
        def loss(self, model, batch):
            if model.training and len(ToyTask.losses) == 8:
                raise RuntimeError("simulated crash during step 9")
            return super().loss(model, batch)

    ToyTask.losses.clear()
    monkeypatch.setitem(registry.TASKS, "toy", CrashingToyTask)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(toy_config(tmp_path / "cut", **schedule))
    assert latest_checkpoint(tmp_path / "cut").name == "ckpt_00000005.pt"

    ToyTask.losses.clear()
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)
    train(toy_config(tmp_path / "cut", **schedule), resume="auto")
    assert ToyTask.losses == uninterrupted[5:]
    full = load_checkpoint(tmp_path / "full" / "ckpt_00000012.pt")
    resumed = load_checkpoint(tmp_path / "cut" / "ckpt_00000012.pt")
    for name, value in full["model"].items():
        assert torch.equal(value, resumed["model"][name]), name
    assert full["best_valid"] == resumed["best_valid"]


def test_checkpoint_holds_the_full_training_state_and_loads_weights_only(tmp_path: Path) -> None:
    train(toy_config(tmp_path, steps=7, keep_last=1))
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_00000007.pt"]
    ckpt = torch.load(tmp_path / "ckpt_00000007.pt", weights_only=True)
    assert ckpt["task"] == "toy" and ckpt["step"] == 7
    assert ckpt["config"]["train"]["steps"] == 7 and ckpt["config"]["model"]["dim"] == 4
    assert (ckpt["epoch"], ckpt["batch_in_epoch"]) == (1, 2)  # 40 examples / 8 = 5 per epoch
    assert set(ckpt["rng"][0]) >= {"python", "numpy", "torch"}
    assert ckpt["optimizer"]["state"], "optimizer moments are saved"


def test_some_nan_steps_are_skipped_without_touching_the_weights(tmp_path: Path) -> None:
    # Example 0 is NaN: the one batch per epoch that holds it yields a NaN loss.
    config = toy_config(
        tmp_path, steps=10, valid_every=0, ckpt_every=1, keep_last=0, data={"nan_indices": [0]}
    )
    result = train(config)
    bad = [i + 1 for i, loss in enumerate(ToyTask.losses) if not math.isfinite(loss)]
    assert len(bad) == 2  # one per epoch of 5 batches
    assert math.isfinite(result["train/loss"]) and math.isfinite(result["valid/loss"])
    for step in bad:
        before = load_checkpoint(tmp_path / f"ckpt_{step - 1:08d}.pt")["model"]
        after = load_checkpoint(tmp_path / f"ckpt_{step:08d}.pt")["model"]
        for name, value in before.items():
            assert torch.equal(value, after[name]), f"step {step} changed {name}"
            assert torch.isfinite(after[name].float()).all()


def test_all_nan_stops_after_max_bad_steps_and_keeps_the_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    train(toy_config(tmp_path, steps=5, valid_every=0))
    good = (tmp_path / "ckpt_00000005.pt").read_bytes()
    config = toy_config(tmp_path, steps=50, max_bad_steps=4, data={"all_nan": True})
    with pytest.raises(TrainingDiverged, match="4 consecutive steps") as info:
        train(config, resume="auto")
    assert "ckpt_00000005.pt" in str(info.value)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_00000005.pt"]
    assert (tmp_path / "ckpt_00000005.pt").read_bytes() == good
    assert load_checkpoint(tmp_path / "ckpt_00000005.pt")["step"] == 5


def test_a_fresh_run_refuses_an_exp_dir_with_checkpoints(tmp_path: Path) -> None:
    train(toy_config(tmp_path, steps=2))
    with pytest.raises(ValueError, match="--resume"):
        train(toy_config(tmp_path, steps=4))


def test_resuming_a_checkpoint_of_another_task_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(toy_config(tmp_path, steps=2))
    monkeypatch.setitem(registry.TASKS, "other_toy", ToyTask)
    config = toy_config(tmp_path, steps=4)
    config["task"] = "other_toy"
    with pytest.raises(ValueError, match="is for task 'toy'"):
        train(config, resume=str(tmp_path / "ckpt_00000002.pt"))


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cpu(tmp_path: Path, dtype: str) -> None:
    result = train(toy_config(tmp_path, steps=6, dtype=dtype))
    assert math.isfinite(result["train/loss"]) and math.isfinite(result["valid/loss"])
    ckpt = load_checkpoint(tmp_path / "ckpt_00000006.pt")
    assert bool(ckpt["scaler"]) == (dtype == "fp16")
