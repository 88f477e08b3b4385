"""Checkpoint files: writing them atomically, reading them safely, rebuilding a model from one
and loading a run's initial weights (the floor under the engine, the families and the commands;
which files an experiment keeps is `waveflow.train.rotation`).

A waveflow checkpoint is a dict loadable with `torch.load(path, weights_only=True)`; only
`task` (a registered task name), `config.model` and `model` (a state dict) are needed to rebuild
the model, so the minimal file written by `waveflow convert` is
`{"task", "config": {"model": {...}}, "model": state}`. A training checkpoint holds:

    task        registry name of the task ("waveglow", "glow", ...)
    config      the resolved config as plain dicts ({"task", "model", "data", "loss", "train"})
    model       model state_dict (unwrapped from DDP); with `train.ema_decay` the averaged
                weights, which validation, synthesis and `init_from` use
    raw_model   (EMA only) the raw training weights, from which a resumed run continues
    optimizer   optimizer state_dict
    scaler      GradScaler state_dict (fp16) or {}
    scheduler   {"step": ..., "lr": ...}: the schedule is a pure function of the step
    step        optimizer steps taken
    epoch, batch_in_epoch   data-order position of the next batch
    best_valid  lowest validation loss so far (inf if none)
    clock       {"wall_s", "process_s"}: time spent in training steps so far
    rng         one `capture_rng()` dict per rank
    finite      whether the last step before saving had a finite loss and gradient
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

import torch

from waveflow.atomic import atomic_write
from waveflow.dataclass_dict import from_dict, to_dict
from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file
from waveflow.limits import LIMITS
from waveflow.task import Task, get_task

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write `state` to `path` atomically (temp file in the same dir + fsync + os.replace)."""
    atomic_write(Path(path), lambda f: torch.save(state, f))


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` and check that it looks like ours.

    A missing, truncated, corrupt, foreign or malicious file (one whose unpickling would
    import or call arbitrary Python) raises a one-line WaveflowError naming the file; no code
    from the file is ever executed.
    """
    path = regular_file(path, "checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for bad files; all mean "unreadable"
        raise WaveflowError(f"cannot load checkpoint {path}: {describe_load_error(err)}") from err
    if not isinstance(ckpt, dict):
        raise WaveflowError(
            f"{path} is not a waveflow checkpoint (it holds a {type(ckpt).__name__})"
        )
    for key in ("task", "config", "model"):
        if key not in ckpt:
            raise WaveflowError(f"{path} is not a waveflow checkpoint (no {key!r} entry)")
    if not isinstance(ckpt["task"], str):
        raise WaveflowError(f"{path}: 'task' must be a string, got {type(ckpt['task']).__name__}")
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["config"].get("model"), dict):
        raise WaveflowError(f"{path}: 'config' must be a dict with a 'model' section")
    if not isinstance(ckpt["model"], dict):
        raise WaveflowError(f"{path}: 'model' must be a state_dict")
    return ckpt


def load_model(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model stored in a checkpoint; returns `(model in eval mode, checkpoint)`.

    The model is built through the task registry from `ckpt["task"]` and
    `ckpt["config"]["model"]` and its weights are loaded strictly from `ckpt["model"]`.
    """
    ckpt = load_checkpoint(path, map_location="cpu")
    return model_from_checkpoint(ckpt, path).to(map_location).eval(), ckpt


def model_from_checkpoint(
    ckpt: dict[str, Any], path: str | os.PathLike[str], max_params: int | None = None
) -> torch.nn.Module:
    """Build the model of a loaded checkpoint (``load_checkpoint``) and load its weights.

    Before anything is allocated, the sizes the config asks for are bounded: the model must
    fit in ``max_params`` parameters (default ``LIMITS.max_model_params``, see
    `waveflow.limits`), and the task's `Task.size_floor` (the fewest tensors and elements such
    a model can have) must not exceed the weights actually present in the file. So a small file
    whose config asks for a huge model is refused at once, without building it.
    """
    task = get_task(ckpt["task"])
    cfg = from_dict(task.model_config, checkpoint_model_section(task, ckpt), "model")
    check_model_size(task.size_floor(cfg), ckpt["model"], path, max_params)
    model = task.build_model(cfg)
    load_state(model, ckpt["model"], path)
    return model


def load_init_weights(task: Task, model: torch.nn.Module, model_cfg: Any, path: str) -> None:
    """`train.init_from`: load the weights of the file at `path` into `model`.

    Called on the unwrapped model of a fresh run instead of `Task.initialize`. A native
    checkpoint (its `model` entry: the EMA weights if it was trained with EMA) must hold `task`'s
    name, exactly the model's parameter names and shapes, and the same `model:` config (fields
    that no shape shows, such as a hop length). A file that is not a native checkpoint goes to
    the family's `Task.load_foreign_weights` (WaveGlow reads NVIDIA's files there). Every
    problem is a one-line WaveflowError.
    """
    try:
        ckpt = load_checkpoint(path)
    except WaveflowError as err:
        task.load_foreign_weights(model, model_cfg, path, err)
        return
    load_native_weights(task, model, model_cfg, ckpt, path)


def load_native_weights(
    task: Task, model: torch.nn.Module, model_cfg: Any, ckpt: dict[str, Any], path: str
) -> None:
    """Load a native checkpoint `ckpt` read from `path` into `model` (see `load_init_weights`)."""
    if ckpt["task"] != task.name:
        raise WaveflowError(
            f"train.init_from {path} holds a {ckpt['task']!r} model, not {task.name!r}"
        )
    check_state_fits(model, ckpt["model"], path)
    found = from_dict(task.model_config, checkpoint_model_section(task, ckpt), "model")
    check_same_config(found, model_cfg, path)
    load_state(model, ckpt["model"], path)


def checkpoint_model_section(task: Task, ckpt: dict[str, Any]) -> dict[str, Any]:
    """The `model` section of a checkpoint's config without the keys that have moved out of
    it since (`Task.moved_keys`, e.g. Glow's `y_weight`), so older checkpoints still load."""
    moved = {key.partition(".")[2] for key in task.moved_keys if key.startswith("model.")}
    return {k: v for k, v in ckpt["config"]["model"].items() if k not in moved}


def check_same_config(
    found: Any, expected: Any, source: str, fields: tuple[str, ...] | None = None
) -> None:
    """Raise a one-line WaveflowError naming the first field (of `fields`; default all) where
    two model config dataclasses differ."""
    theirs, ours = to_dict(found), to_dict(expected)
    for key, value in ours.items():
        if (fields is None or key in fields) and theirs.get(key) != value:
            raise WaveflowError(
                f"{source} was trained with model.{key}={theirs.get(key)!r}, but the config "
                f"says {value!r}"
            )


def check_model_size(
    floor: tuple[int, int],
    state: dict[str, Any],
    path: str | os.PathLike[str],
    max_params: int | None = None,
) -> None:
    """Refuse a config whose model cannot fit `state` or the parameter cap (see above)."""
    cap = LIMITS.max_model_params if max_params is None else max_params
    tensors = [v for v in state.values() if isinstance(v, torch.Tensor)]
    present = sum(t.numel() for t in tensors)
    min_tensors, min_elements = floor
    if min_elements > cap or present > cap:
        asked = max(min_elements, present)
        raise WaveflowError(
            f"checkpoint {path}: the model would have at least {asked:,} parameters, more than "
            f"the limit of {cap:,} (raise it with --max-model-params or "
            "WAVEFLOW_MAX_MODEL_PARAMS if you trust this file)"
        )
    if min_tensors > len(tensors) or min_elements > present:
        raise WaveflowError(
            f"checkpoint {path}: its config asks for a model of at least {min_tensors:,} tensors "
            f"and {min_elements:,} values, but the file holds {len(tensors):,} tensors and "
            f"{present:,} values (config and weights do not match; the model was not built)"
        )


def load_state(model: torch.nn.Module, state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """`model.load_state_dict(state)` with a one-line WaveflowError on any mismatch."""
    check_state_fits(model, state, f"checkpoint {path}")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as err:
        raise WaveflowError(
            f"checkpoint {path} does not match the model: {describe_load_error(err, limit=300)}"
        ) from err


def check_state_fits(
    model: torch.nn.Module, state: dict[str, Any], source: str | os.PathLike[str]
) -> None:
    """Raise a one-line WaveflowError unless `state` has exactly `model`'s keys and shapes.

    The message names `source` (the file) and the first parameter whose shape differs (both
    shapes), or the missing and unexpected keys (the first few of each, with their counts).
    """
    expected = model.state_dict()
    for name, tensor in expected.items():
        value = state.get(name)
        if isinstance(value, torch.Tensor) and value.shape != tensor.shape:
            raise WaveflowError(
                f"{source} does not match the model: parameter {name!r} has shape "
                f"{list(value.shape)} in the checkpoint but {list(tensor.shape)} in the model "
                "(a model of another size? check the model: section)"
            )
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_first(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_first(unexpected)}")
        raise WaveflowError(f"{source} does not match the model: {'; '.join(parts)}")


def _first(names: list[str], count: int = 3) -> str:
    return ", ".join(names[:count]) + (" ..." if len(names) > count else "")


def describe_load_error(err: BaseException, limit: int = 200) -> str:
    """A short one-line description of why `torch.load` (or unpickling) failed."""
    text = " ".join(_ANSI.sub("", str(err)).split()) or type(err).__name__
    unsafe = re.search(r"GLOBAL ([\w.]+)", text)
    if unsafe:
        return (
            f"it would import {unsafe.group(1)} when unpickled (refused: a checkpoint may hold "
            "only tensors and plain containers)"
        )
    if "Weights only load failed" in text:
        return "the file is corrupt or not a PyTorch checkpoint"
    if "failed finding central directory" in text or "zip archive" in text:
        return "the file is truncated or not a PyTorch checkpoint"
    if isinstance(err, EOFError) or (isinstance(err, OSError) and err.errno == errno.EINVAL):
        return "the file is empty, truncated or not a PyTorch checkpoint"
    return text[:limit] + ("..." if len(text) > limit else "")
