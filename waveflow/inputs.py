"""Checks on input paths before they are opened: only regular files are ever read.

Opening a FIFO blocks until someone writes to it, a character device such as /dev/zero never
ends, and a directory is not a file: each is refused with a one-line `WaveflowError` that says
what the path is, before anything reads from it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from waveflow.errors import WaveflowError


def describe_non_regular(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be read as a file ("no such file", "is a directory", ...), or None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as err:
        return err.strerror or type(err).__name__
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def regular_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """`path` as a Path if it is a regular file; else a WaveflowError naming `what` and why."""
    problem = describe_non_regular(path)
    if problem == "no such file":
        raise WaveflowError(f"{what} not found: {path}")
    if problem is not None:
        raise WaveflowError(f"{what} {path}: {problem}")
    return Path(path)
