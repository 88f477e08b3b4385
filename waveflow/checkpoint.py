"""Reading checkpoints safely and rebuilding a model from one (the floor under engine and families).

A waveflow checkpoint is a dict loadable with `torch.load(path, weights_only=True)`; only
`task` (a registered task name), `config.model` and `model` (a state dict) are needed to rebuild
the model, so the minimal file written by `waveflow convert` is
`{"task", "config": {"model": {...}}, "model": state}`. The training engine adds optimizer, RNG
and data-order state (see `waveflow.train.checkpoint`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from waveflow.config import from_dict
from waveflow.errors import WaveflowError
from waveflow.task import get_task


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


def check_state_fits(
    model: torch.nn.Module, state: dict[str, Any], source: str | os.PathLike[str]
) -> None:
    """Raise a one-line WaveflowError unless `state` has exactly `model`'s keys and shapes.

    The message names the first parameter whose shape differs (both shapes), or the missing
    and unexpected keys (the first few of each), and `source` (the file).
    """
    expected = model.state_dict()
    for name, tensor in expected.items():
        value = state.get(name)
        if isinstance(value, torch.Tensor) and value.shape != tensor.shape:
            raise WaveflowError(
                f"{source} does not fit the model: parameter {name!r} has shape "
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
        raise WaveflowError(f"{source} does not fit the model: {'; '.join(parts)}")


def _first(names: list[str], count: int = 3) -> str:
    return ", ".join(names[:count]) + (" ..." if len(names) > count else "")


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
