"""Config parsing: sections, dotted overrides, type checks and "did you mean" suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from engine_stand_in import ToyDataConfig, ToyModelConfig, ToyTask

from waveflow import task as registry
from waveflow.errors import WaveflowError
from waveflow.train.config import TrainConfig, load_config, parse_config, save_config


@pytest.fixture(autouse=True)
def toy_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_sections_parse_into_the_task_and_engine_dataclasses(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        "task: toy\nmodel: {hidden: 16}\ndata: {nan_indices: [1, 2]}\n"
        "train: {lr: 1e-3, betas: [0.8, 0.99], grad_clip: 2}\n",
    )
    config = load_config(path)
    assert config.model == ToyModelConfig(dim=4, hidden=16)
    assert config.data == ToyDataConfig(nan_indices=[1, 2])
    assert config.train.lr == 0.001  # YAML reads "1e-3" as a string; it must become a float
    assert config.train.betas == (0.8, 0.99)
    assert config.train.grad_clip == 2.0 and isinstance(config.train.grad_clip, float)
    assert config.train.steps == TrainConfig().steps


def test_overrides_set_nested_keys_with_yaml_values(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "task: toy\ntrain: {lr: 0.1}\n")
    config = load_config(
        path, ["train.lr=2e-4", "model.dim=6", "data.nan_indices=[3]", "train.grad_clip=null"]
    )
    assert config.train.lr == 2e-4
    assert config.model.dim == 6
    assert config.data.nan_indices == [3]
    assert config.train.grad_clip is None


LR_HINT = "unknown key 'train.lerning_rate' (did you mean 'train.lr'?)"


@pytest.mark.parametrize(
    ("raw", "overrides", "message"),
    [
        ({"task": "toy", "train": {"lerning_rate": 1}}, [], LR_HINT),
        ({"task": "toy"}, ["train.lerning_rate=1"], LR_HINT),
        ({"task": "toy"}, ["train.batchsize=4"], "did you mean 'train.batch_size'?"),
        ({"task": "toy"}, ["trian.lr=4"], "unknown key 'trian' (did you mean 'train'?)"),
        ({"task": "toy", "model": {"hiden": 3}}, [], "did you mean 'model.hidden'?"),
        ({"task": "toy", "loss": {"noize": 0.1}}, [], "did you mean 'loss.noise'?"),
    ],
)
def test_unknown_keys_suggest_the_closest_valid_key(
    raw: dict, overrides: list, message: str
) -> None:
    with pytest.raises(WaveflowError) as info:
        parse_config(raw, overrides)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lr=fast", "train.lr: expected float, got 'fast'"),
        ("train.steps=1.5", "train.steps: expected int"),
        ("train.steps=true", "train.steps: expected int"),
        ("train.dtype=fp8", "train.dtype: expected one of 'fp32', 'bf16', 'fp16'"),
        ("train.betas=[0.9]", "train.betas: expected a list of 2 values"),
        ("model=3", "model: expected a mapping"),
        ("data.all_nan=1", "data.all_nan: expected bool"),
        ("data.nan_indices=[1, x]", "data.nan_indices[1]: expected int"),
        ("train.lr=-1", "train.lr must be > 0"),
        ("train.lr.x=1", "'train.lr' is a value, not a section"),
        ("train.lr", "not of the form KEY=VALUE"),
    ],
)
def test_bad_values_name_the_key(override: str, message: str) -> None:
    with pytest.raises(WaveflowError) as info:
        parse_config({"task": "toy", "train": {"lr": 0.1}}, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(WaveflowError, match=r"unknown task 'toi' \(known tasks: .*toy") as info:
        parse_config({"task": "toi"})
    assert "did you mean 'toy'?" in str(info.value)
    with pytest.raises(WaveflowError, match="missing key 'task'"):
        parse_config({"train": {}})


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WaveflowError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(WaveflowError, match="not valid YAML"):
        load_config(write_config(tmp_path / "bad.yaml", "task: [toy\n"))
    with pytest.raises(WaveflowError, match="must contain a mapping"):
        load_config(write_config(tmp_path / "list.yaml", "- toy\n"))


def test_saved_config_reloads_to_the_same_config(tmp_path: Path) -> None:
    config = parse_config({"task": "toy", "model": {"hidden": 5}}, ["train.betas=[0.5, 0.6]"])
    save_config(config, tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["train"]["betas"] == [0.5, 0.6]
    assert load_config(tmp_path / "config.yaml") == config
