"""Experiment configuration: the YAML file, dotted overrides, and the engine's `TrainConfig`.

A config file has five sections::

    task: waveglow          # registry name (or "package.module:Class")
    model: {...}            # parsed into the task's `model_config` dataclass
    data: {...}             # parsed into the task's `data_config` dataclass
    loss: {...}             # parsed into the task's `loss_config` dataclass (may be omitted)
    train: {...}            # parsed into `TrainConfig` below

A key that an older config held elsewhere (`Task.moved_keys`, e.g. `data.sigma`) is a one-line
error saying where it moved ("data.sigma moved to loss.sigma").

Overrides such as `train.lr=2e-4 data.segment_length=8000` are applied to the raw YAML before
parsing; each value is read with `yaml.safe_load`. Unknown keys and wrong value types anywhere
are WaveflowErrors that name the key (and suggest the closest valid one).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from waveflow.atomic import atomic_write_text
from waveflow.dataclass_dict import from_dict, to_dict, unknown_key_error
from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file
from waveflow.task import get_task

SECTIONS = ("task", "model", "data", "loss", "train")


@dataclasses.dataclass
class TrainConfig:
    """The `train:` section: optimisation, precision, logging and checkpointing.

    Steps count optimizer iterations (a step skipped by the NaN guard still counts).
    `batch_size` is per process and per micro-batch: the examples of one optimizer step are
    batch_size * accumulate * world size.

    `ema_decay` (e.g. 0.999) keeps an exponential moving average of the weights, used for
    validation, TensorBoard media and saved as the checkpoint's `model` (see
    `waveflow.train.ema`). `accumulate` micro-batches are summed into one exact update.
    `init_from` starts a fresh run (new optimizer, step 0) from the weights of a checkpoint,
    read by `waveflow.checkpoint.load_init_weights`; a resumed run ignores it.
    `budget_seconds` stops training once that much time was spent in training steps, measured
    by `budget_clock` ("process": CPU seconds of this process, "wall": elapsed seconds);
    `steps` stays the cap.
    """

    exp_dir: str = "exp/run"
    seed: int = 1234
    steps: int = 1000
    batch_size: int = 8
    num_workers: int = 2
    optimizer: Literal["adam", "adamax"] = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0  # linear warm-up from lr/warmup_steps to lr
    lr_decay: Literal["none", "cosine", "exponential"] = "none"
    lr_min_ratio: float = 0.0  # cosine: the final lr is lr * lr_min_ratio
    lr_decay_rate: float = 0.5  # exponential: lr is multiplied by this ...
    lr_decay_steps: int = 100_000  # ... every lr_decay_steps steps after warm-up
    grad_clip: float | None = None  # max global grad norm; 0 or null = off
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    log_every: int = 50
    valid_every: int = 1000  # 0 = validate only at the end
    valid_batches: int | None = None  # cap on validation batches; null = whole set
    ckpt_every: int = 1000  # 0 = checkpoint only at the end
    keep_last: int = 3  # numbered checkpoints to keep (best.pt is kept apart); 0 = all
    max_bad_steps: int = 50  # consecutive non-finite steps before giving up
    init_batch_size: int | None = None  # data-dependent init batch; null = batch_size
    media_every: int = 1000  # 0 = never call Task.log_media
    device: Literal["auto", "cpu", "cuda"] = "auto"
    resume: str | None = None  # "auto" (latest in exp_dir, if any) or a checkpoint path
    ema_decay: float | None = None  # weight EMA decay, e.g. 0.999; null = no EMA
    accumulate: int = 1  # micro-batches per optimizer step (gradient accumulation)
    init_from: str | None = None  # weights to start a fresh run from (ignored on resume)
    budget_seconds: float | None = None  # stop after this much training-step time; null = off
    budget_clock: Literal["process", "wall"] = "process"

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "lr", "log_every", "max_bad_steps", "lr_decay_steps")
        for name in positive:
            if getattr(self, name) <= 0:
                raise WaveflowError(f"train.{name} must be > 0, got {getattr(self, name)}")
        non_negative = (
            "num_workers",
            "weight_decay",
            "warmup_steps",
            "valid_every",
            "ckpt_every",
            "keep_last",
            "media_every",
            "eps",
            "lr_min_ratio",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise WaveflowError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("valid_batches", "init_batch_size", "grad_clip"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise WaveflowError(f"train.{name} must be >= 0 or null, got {value}")
        if self.accumulate <= 0:
            raise WaveflowError(
                f"train.accumulate must be >= 1 (micro-batches per step), got {self.accumulate}"
            )
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise WaveflowError(f"train.ema_decay must be in [0, 1) or null, got {self.ema_decay}")
        if self.budget_seconds is not None and not self.budget_seconds > 0:
            raise WaveflowError(
                f"train.budget_seconds must be > 0 or null, got {self.budget_seconds}"
            )
        if not 0 < self.lr_decay_rate <= 1:
            raise WaveflowError(f"train.lr_decay_rate must be in (0, 1], got {self.lr_decay_rate}")
        if not all(0 <= b < 1 for b in self.betas):
            raise WaveflowError(f"train.betas must be in [0, 1), got {list(self.betas)}")


@dataclasses.dataclass
class ExperimentConfig:
    """A parsed config: the task name and one dataclass instance per section."""

    task: str
    model: Any
    data: Any
    loss: Any
    train: TrainConfig


def load_config(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read the YAML file at `path`, apply `KEY=VALUE` overrides and parse it."""
    path = regular_file(path, "config file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise WaveflowError(f"config file not found: {path}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise WaveflowError(f"cannot read config file {path}: {err}") from err
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise WaveflowError(f"config file {path} is not valid YAML: {_one_line(err)}") from err
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WaveflowError(f"config file {path} must contain a mapping of sections")
    return parse_config(raw, overrides)


def parse_config(raw: Mapping[str, Any], overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Parse a raw config dict (as read from YAML) after applying `KEY=VALUE` overrides."""
    raw = _deep_copy(raw)
    for text in overrides:
        apply_override(raw, text)
    for key in raw:
        if key not in SECTIONS:
            raise unknown_key_error(str(key), list(SECTIONS))
    if "task" not in raw:
        raise WaveflowError("missing key 'task' (the model family, e.g. 'waveglow' or 'glow')")
    task = get_task(raw["task"], allow_plugin=True)
    check_moved_keys(raw, task.moved_keys)
    check_unsupported_keys(raw, raw["task"], task.unsupported_keys)
    return ExperimentConfig(
        task=raw["task"],
        model=from_dict(task.model_config, _section(raw, "model"), "model"),
        data=from_dict(task.data_config, _section(raw, "data"), "data"),
        loss=from_dict(task.loss_config, _section(raw, "loss"), "loss"),
        train=from_dict(TrainConfig, _section(raw, "train"), "train"),
    )


def check_moved_keys(raw: Mapping[str, Any], moved: Mapping[str, str]) -> None:
    """Raise "data.sigma moved to loss.sigma" for the first old dotted key present in `raw`."""
    for old, new in moved.items():
        section, _, key = old.partition(".")
        value = raw.get(section)
        if isinstance(value, Mapping) and key in value:
            raise WaveflowError(f"{old} moved to {new}: write it under {new.partition('.')[0]}:")


def check_unsupported_keys(
    raw: Mapping[str, Any], task: str, unsupported: Mapping[str, str]
) -> None:
    """Raise "model.lapped is not supported by task waveflow: <why>" for the first such key."""
    for key, why in unsupported.items():
        section, _, name = key.partition(".")
        value = raw.get(section)
        if isinstance(value, Mapping) and name in value:
            raise WaveflowError(f"{key} is not supported by task {task}: {why}")


def apply_override(raw: dict[str, Any], text: str) -> None:
    """Set the dotted key of `text` ("train.lr=2e-4") in `raw`; the value is YAML."""
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise WaveflowError(f"override {text!r} is not of the form KEY=VALUE (e.g. train.lr=2e-4)")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError:
        value = value_text
    *parents, leaf = key.split(".")
    node = raw
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            section = ".".join(parents[: depth + 1])
            raise WaveflowError(f"override {text!r}: {section!r} is a value, not a section")
        node = child
    node[leaf] = value


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """The resolved config as plain dicts/lists/scalars (YAML and weights_only safe)."""
    return {
        "task": config.task,
        "model": to_dict(config.model),
        "data": to_dict(config.data),
        "loss": to_dict(config.loss),
        "train": to_dict(config.train),
    }


def save_config(config: ExperimentConfig, path: str | os.PathLike[str]) -> None:
    """Write the resolved config as YAML, atomically."""
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    atomic_write_text(Path(path), text)


def _section(raw: Mapping[str, Any], name: str) -> Any:
    value = raw.get(name)
    return {} if value is None else value


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())
