"""End-to-end tests of the training loop on the toy flow task (CPU, a few steps each)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from engine_stand_in import (
    ToyDataConfig,
    ToyFlow,
    ToyLossConfig,
    ToyModelConfig,
    ToyTask,
    toy_config,
)

from waveflow import task as registry
from waveflow.checkpoint import load_checkpoint, load_model
from waveflow.train.ema import WeightEMA, ema_decay_at
from waveflow.train.engine import TrainingDiverged, train
from waveflow.train.rotation import latest_checkpoint, list_checkpoints


@pytest.fixture(autouse=True)
def toy_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)
    ToyTask.losses.clear()


def test_a_few_steps_lower_the_loss(tmp_path: Path) -> None:
    result = train(toy_config(tmp_path, steps=40, valid_every=40, ckpt_every=0))
    first, last = ToyTask.losses[:5], ToyTask.losses[-5:]
    assert sum(last) / 5 < sum(first) / 5 - 0.3
    assert result["step"] == 40
    assert math.isfinite(result["valid/loss"]) and result["valid/loss"] == result["best_valid_loss"]
    assert (tmp_path / "config.yaml").is_file()
    assert (tmp_path / "best.pt").is_file()
    assert any((tmp_path / "tb").iterdir())


@pytest.mark.parametrize(
    "extra",
    [{}, {"ema_decay": 0.9}, {"accumulate": 2, "ema_decay": 0.5}],
    ids=["plain", "ema", "accumulate+ema"],
)
def test_resumed_run_repeats_the_uninterrupted_losses_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict
) -> None:
    schedule = {"warmup_steps": 3, "lr_decay": "cosine", "lr_min_ratio": 0.1, **extra}
    micro = extra.get("accumulate", 1)  # ToyTask.losses has one entry per micro-batch
    train(toy_config(tmp_path / "full", **schedule))
    uninterrupted = list(ToyTask.losses)
    assert len(uninterrupted) == 12 * micro

    class CrashingToyTask(ToyTask):
        def loss(self, model, batch, options):
            if model.training and len(ToyTask.losses) == 8 * micro:
                raise RuntimeError("simulated crash during step 9")
            return super().loss(model, batch, options)

    ToyTask.losses.clear()
    monkeypatch.setitem(registry.TASKS, "toy", CrashingToyTask)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(toy_config(tmp_path / "cut", **schedule))
    assert latest_checkpoint(tmp_path / "cut").name == "ckpt_00000005.pt"

    ToyTask.losses.clear()
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)
    train(toy_config(tmp_path / "cut", **schedule), resume="auto")
    assert ToyTask.losses == uninterrupted[5 * micro :]
    full = load_checkpoint(tmp_path / "full" / "ckpt_00000012.pt")
    resumed = load_checkpoint(tmp_path / "cut" / "ckpt_00000012.pt")
    assert ("raw_model" in full) == ("ema_decay" in extra)
    for key in ("model", "raw_model") if "ema_decay" in extra else ("model",):
        for name, value in full[key].items():
            assert torch.equal(value, resumed[key][name]), f"{key}.{name}"
    assert full["best_valid"] == resumed["best_valid"]
    assert (full["epoch"], full["batch_in_epoch"]) == divmod(12 * micro, 5)


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


def test_accumulated_micro_batches_give_the_update_of_one_larger_batch(tmp_path: Path) -> None:
    common = {"init_batch_size": 8, "loss": {"noise": 0.0}, "grad_clip": 1.0, "steps": 10}
    big = train(toy_config(tmp_path / "big", batch_size=8, **common))
    small = train(toy_config(tmp_path / "small", batch_size=4, accumulate=2, **common))
    reference = load_checkpoint(tmp_path / "big" / "ckpt_00000010.pt")
    accumulated = load_checkpoint(tmp_path / "small" / "ckpt_00000010.pt")
    for name, value in reference["model"].items():
        assert torch.allclose(accumulated["model"][name], value, atol=1e-6), name
    assert (accumulated["epoch"], accumulated["batch_in_epoch"]) == (1, 10)  # 2 epochs of 10
    assert small["train/loss"] == pytest.approx(big["train/loss"], abs=1e-5)
    assert small["valid/loss"] == pytest.approx(big["valid/loss"], abs=1e-5)
    # and a genuinely different update rule does differ (the comparison can fail)
    train(toy_config(tmp_path / "half", batch_size=4, **common))
    half = load_checkpoint(tmp_path / "half" / "ckpt_00000010.pt")
    assert not torch.allclose(half["model"]["net.0.weight"], reference["model"]["net.0.weight"])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("accumulate", 0, "train.accumulate must be >= 1"),
        ("accumulate", -2, "train.accumulate must be >= 1"),
        ("ema_decay", 1.0, "train.ema_decay must be in"),
        ("budget_seconds", 0, "train.budget_seconds must be > 0"),
    ],
)
def test_bad_engine_options_are_one_line_errors(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        train(toy_config(tmp_path, **{key: value}))
    assert "\n" not in str(info.value)


def test_ema_weights_are_validated_and_published_and_buffers_copied(tmp_path: Path) -> None:
    result = train(toy_config(tmp_path, steps=8, ema_decay=0.8, valid_every=0, ckpt_every=0))
    ckpt = load_checkpoint(tmp_path / "ckpt_00000008.pt")
    assert not torch.equal(ckpt["model"]["net.0.weight"], ckpt["raw_model"]["net.0.weight"])
    assert bool(ckpt["model"]["initialized"]) and bool(ckpt["raw_model"]["initialized"])
    model, _ = load_model(tmp_path / "ckpt_00000008.pt")  # what synthesis reads: the EMA
    task = ToyTask()
    _, valid_set = task.build_datasets(ToyDataConfig(), ToyModelConfig())
    batch = torch.stack([valid_set[i] for i in range(len(valid_set))])
    with torch.no_grad():
        loss = float(task.loss(model, batch, ToyLossConfig())["loss"])
        assert loss == pytest.approx(result["valid/loss"])
        model.load_state_dict(ckpt["raw_model"])
        loss = float(task.loss(model, batch, ToyLossConfig())["loss"])
        assert loss != pytest.approx(result["valid/loss"])


def test_weight_ema_averages_parameters_and_copies_buffers() -> None:
    model = ToyFlow(4, 8)
    ema = WeightEMA(model, decay=0.9)
    before = ema.model.loc.detach().clone()
    with torch.no_grad():
        model.loc.add_(1.0)
        model.initialized.fill_(True)
    ema.update(model, step=100)  # (1 + 100) / (10 + 100) > 0.9: the decay is 0.9
    assert torch.allclose(ema.model.loc, 0.9 * before + 0.1 * model.loc.detach())
    assert bool(ema.model.initialized)
    assert ema_decay_at(1, 0.999) == pytest.approx(2 / 11)  # warm-up: forget the init fast


def test_a_time_budget_stops_early_and_the_clock_is_saved(tmp_path: Path) -> None:
    result = train(toy_config(tmp_path, steps=50, budget_seconds=1e-9, budget_clock="wall"))
    assert result["step"] == 1
    ckpt = load_checkpoint(tmp_path / "ckpt_00000001.pt")
    assert ckpt["clock"]["wall_s"] > 0 and ckpt["clock"]["process_s"] >= 0
    assert result["clock/wall_s"] == ckpt["clock"]["wall_s"]


def test_init_from_loads_weights_only_and_resume_wins(tmp_path: Path) -> None:
    train(toy_config(tmp_path / "source", steps=6))
    source = tmp_path / "source" / "ckpt_00000006.pt"
    train(toy_config(tmp_path / "tuned", steps=1, lr=1e-12, init_from=str(source)))
    tuned = load_checkpoint(tmp_path / "tuned" / "ckpt_00000001.pt")
    weights = load_checkpoint(source)["model"]
    for name, value in weights.items():
        assert torch.allclose(tuned["model"][name].float(), value.float(), atol=1e-9), name
    assert tuned["step"] == 1  # a fresh run: step 0 -> 1, fresh optimizer moments
    assert {float(s["step"]) for s in tuned["optimizer"]["state"].values()} == {1.0}
    # resume wins over init_from: the run continues from its own checkpoint
    result = train(
        toy_config(tmp_path / "tuned", steps=3, lr=1e-2, init_from=str(source)), resume="auto"
    )
    assert result["step"] == 3


def test_init_from_refuses_another_task_another_size_and_bad_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OtherToyTask(ToyTask):
        name = "other_toy"

    monkeypatch.setitem(registry.TASKS, "other_toy", OtherToyTask)
    other = toy_config(tmp_path / "other", steps=2)
    other["task"] = "other_toy"
    train(other)
    train(toy_config(tmp_path / "wide", steps=2) | {"model": {"dim": 4, "hidden": 16}})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "wide" / "ckpt_00000002.pt").read_bytes()[:300])
    cases = {
        tmp_path / "other" / "ckpt_00000002.pt": "holds a 'other_toy' model, not 'toy'",
        tmp_path / "wide" / "ckpt_00000002.pt": (
            r"parameter 'net.0.weight' has shape \[16, 2\] in the checkpoint but \[8, 2\]"
        ),
        truncated: "truncated",
        tmp_path / "absent.pt": "not found",
    }
    for index, (path, message) in enumerate(cases.items()):
        config = toy_config(tmp_path / f"run{index}", steps=2, init_from=str(path))
        with pytest.raises(ValueError, match=message) as info:
            train(config)
        assert "\n" not in str(info.value)


def test_a_nan_micro_batch_skips_the_whole_accumulated_update(tmp_path: Path) -> None:
    config = toy_config(
        tmp_path, steps=5, batch_size=4, accumulate=2, valid_every=0, ckpt_every=1, keep_last=0,
        data={"nan_indices": [0]},
    )  # fmt: skip
    train(config)
    micro = ToyTask.losses
    bad_steps = sorted({i // 2 + 1 for i, loss in enumerate(micro) if not math.isfinite(loss)})
    assert bad_steps == [4] and len(micro) == 10  # example 0 is in step 4's first micro-batch
    assert math.isfinite(micro[7])  # the step's other micro-batch is fine, yet nothing changes
    before = load_checkpoint(tmp_path / "ckpt_00000003.pt")["model"]
    after = load_checkpoint(tmp_path / "ckpt_00000004.pt")["model"]
    for name, value in before.items():
        assert torch.equal(value, after[name]), name
    last = load_checkpoint(tmp_path / "ckpt_00000005.pt")["model"]
    assert not torch.equal(last["net.0.weight"], after["net.0.weight"])  # step 5 updates again


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_accumulation_with_mixed_precision_trains_on_cpu(tmp_path: Path, dtype: str) -> None:
    result = train(toy_config(tmp_path, steps=6, batch_size=4, accumulate=2, dtype=dtype))
    assert math.isfinite(result["train/loss"]) and math.isfinite(result["valid/loss"])
    assert len(ToyTask.losses) == 12
