"""Training checkpoint files: atomic saving and rotation (reading lives in `waveflow.checkpoint`).

A training checkpoint is a dict loadable with `torch.load(path, weights_only=True)`:

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

Only `task`, `config.model` and `model` are needed for inference
(`waveflow.checkpoint.load_model`).

Numbered checkpoints are `ckpt_<step:08d>.pt`; `best.pt` holds the lowest validation loss.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from waveflow.atomic import atomic_write, is_temp_name

BEST_NAME = "best.pt"
_NUMBERED = re.compile(r"^ckpt_(\d+)\.pt$")
_OURS = re.compile(r"^(ckpt_\d+|best)\.pt$")


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


def prune_checkpoints(
    exp_dir: str | os.PathLike[str], keep_last: int, protect: Path | None = None
) -> None:
    """Delete all but the `keep_last` newest numbered checkpoints (0 keeps all).

    `protect` (the last checkpoint saved at a finite loss, while the loss is not finite) is
    never deleted.
    """
    if keep_last <= 0:
        return
    for path in list_checkpoints(exp_dir)[:-keep_last]:
        if protect is None or path != Path(protect):
            path.unlink(missing_ok=True)


def remove_stale_temp_files(exp_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files of checkpoint writes that a killed process left in `exp_dir`.

    Only names of our own making are touched (`.ckpt_<step>.<8 chars>.tmp.pt`,
    `.best.<8 chars>.tmp.pt`, see `waveflow.atomic`). Call it before this run writes anything.
    Returns the paths removed.
    """
    directory = Path(exp_dir)
    if not directory.is_dir():
        return []
    stale = [p for p in directory.iterdir() if is_temp_name(p.name, _OURS) and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
