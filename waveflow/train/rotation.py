"""Checkpoint rotation in an experiment directory: numbered files, the newest, pruning the
oldest, removing what a killed write left behind. Reading and writing one file (and what a
training checkpoint holds) is `waveflow.checkpoint`.

Numbered checkpoints are `ckpt_<step:08d>.pt`; `best.pt` holds the lowest validation loss.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from waveflow.atomic import is_temp_name

BEST_NAME = "best.pt"
_NUMBERED = re.compile(r"^ckpt_(\d+)\.pt$")
_OURS = re.compile(r"^(ckpt_\d+|best)\.pt$")


def checkpoint_path(exp_dir: str | os.PathLike[str], step: int) -> Path:
    """The path of the numbered checkpoint for `step` in `exp_dir`."""
    return Path(exp_dir) / f"ckpt_{step:08d}.pt"


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
