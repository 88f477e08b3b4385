"""Checkpoint files: atomic saving, rotation, safe loading, and rebuilding a model from one.

A training checkpoint is a dict loadable with `torch.load(path, weights_only=True)`:

    task        registry name of the task ("waveglow", "glow", ...)
    config      the resolved config as plain dicts ({"task", "model", "data", "train"})
    model       model state_dict (unwrapped from DDP)
    optimizer   optimizer state_dict
    scaler      GradScaler state_dict (fp16) or {}
    scheduler   {"step": ..., "lr": ...}: the schedule is a pure function of the step
    step        optimizer steps taken
    epoch, batch_in_epoch   data-order position of the next batch
    best_valid  lowest validation loss so far (inf if none)
    rng         one `capture_rng()` dict per rank

Only `task`, `config.model` and `model` are needed for inference (`load_model`), so the minimal
file written by `waveflow convert` is `{"task", "config": {"model": {...}}, "model": state}`.

Numbered checkpoints are `ckpt_<step:08d>.pt`; `best.pt` holds the lowest validation loss.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from waveflow.atomic import atomic_write
from waveflow.errors import WaveflowError
from waveflow.train.registry import get_task
from waveflow.train.typed_config import from_dict

BEST_NAME = "best.pt"
_NUMBERED = re.compile(r"^ckpt_(\d+)\.pt$")


def checkpoint_path(exp_dir: str | os.PathLike[str], step: int) -> Path:
    """The path of the numbered checkpoint for `step` in `exp_dir`."""
    return Path(exp_dir) / f"ckpt_{step:08d}.pt"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write `state` to `path` atomically (temp file in the same dir + fsync + os.replace)."""
    atomic_write(Path(path), lambda f: torch.save(state, f))


def list_checkpoints(exp_dir: str | os.PathLike[str]) -> list[Path]:
    """Numbered checkpoints in `exp_dir`, oldest (lowest step) first."""
    directory = Path(exp_dir)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NUMBERED.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(exp_dir: str | os.PathLike[str]) -> Path | None:
    """The numbered checkpoint with the highest step in `exp_dir`, or None."""
    checkpoints = list_checkpoints(exp_dir)
    return checkpoints[-1] if checkpoints else None


def prune_checkpoints(exp_dir: str | os.PathLike[str], keep_last: int) -> None:
    """Delete all but the `keep_last` newest numbered checkpoints (0 keeps all)."""
    if keep_last <= 0:
        return
    for path in list_checkpoints(exp_dir)[:-keep_last]:
        path.unlink(missing_ok=True)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` and check that it looks like ours.

    A missing, truncated, corrupt, foreign or malicious file (one whose unpickling would
    import or call arbitrary Python) raises a one-line WaveflowError naming the file; no code
    from the file is ever executed.
    """
    path = Path(path)
    if not path.is_file():
        raise WaveflowError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for bad files; all mean "unreadable"
        raise WaveflowError(f"cannot load checkpoint {path}: {_reason(err)}") from err
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


def model_from_checkpoint(ckpt: dict[str, Any], path: str | os.PathLike[str]) -> torch.nn.Module:
    """Build the model of a loaded checkpoint (``load_checkpoint``) and load its weights."""
    task = get_task(ckpt["task"])
    model = task.build_model(from_dict(task.model_config, ckpt["config"]["model"], "model"))
    load_state(model, ckpt["model"], path)
    return model


def load_state(model: torch.nn.Module, state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """`model.load_state_dict(state)` with a one-line WaveflowError on any mismatch."""
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as err:
        raise WaveflowError(
            f"checkpoint {path} does not match the model: {_reason(err, limit=300)}"
        ) from err


def _reason(err: BaseException, limit: int = 200) -> str:
    """A short one-line description of why loading failed."""
    text = " ".join(str(err).split()) or type(err).__name__
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
    if isinstance(err, EOFError):
        return "the file is empty or truncated"
    return text[:limit] + ("..." if len(text) > limit else "")
