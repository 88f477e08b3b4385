"""Reading checkpoints safely and rebuilding a model from one (the floor under engine and families).

A waveflow checkpoint is a dict loadable with `torch.load(path, weights_only=True)`; only
`task` (a registered task name), `config.model` and `model` (a state dict) are needed to rebuild
the model, so the minimal file written by `waveflow convert` is
`{"task", "config": {"model": {...}}, "model": state}`. The training engine adds optimizer, RNG
and data-order state (see `waveflow.train.checkpoint`).
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

import torch

from waveflow.config import from_dict
from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file
from waveflow.limits import LIMITS
from waveflow.task import checkpoint_model_section, get_task

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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
