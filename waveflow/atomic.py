"""Atomic file writes: a hidden temp file in the target's folder, fsync, then os.replace.

A crash or an error in the middle of a write leaves either the old file or the new one, never a
partial file under the target name. Temp files are named ``.<stem>.<random>.tmp<suffix>`` (the
suffix kept so that writers which infer the format from it, soundfile or numpy, behave as for
the target) and are removed when the write fails or is interrupted; `is_temp_name` recognises
them, so that those left by a killed process can be cleaned up later. New files get the usual
permissions (``0o666`` minus the umask), not ``mkstemp``'s private ``0o600``.

A write that fails because of the file system (disk full, permission denied, the target is a
directory) raises a one-line `WaveflowError` naming the target and the cause, also when the
writer wrapped the `OSError` in its own error (torch's zip writer raises a RuntimeError);
an interrupted write re-raises the `KeyboardInterrupt`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from waveflow.errors import WaveflowError

_TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.[A-Za-z0-9_]{8}\.tmp(?P<suffix>\.[^.]*)?$")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path next to ``path``; when the body succeeds it replaces ``path``.

    Parent folders are created. If the body raises, ``path`` is left untouched.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "the output name is taken by a directory")
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}"
        )
    except OSError as err:
        raise write_error(target, err) from err
    tmp = Path(name)
    try:
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException as err:
        interrupt = find_in_chain(err, KeyboardInterrupt)
        if interrupt is not None and interrupt is not err:
            raise interrupt from None
        os_error = find_in_chain(err, OSError)
        if os_error is not None and not isinstance(err, WaveflowError):
            raise write_error(target, os_error) from err
        raise
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)


def is_temp_name(name: str, target_pattern: re.Pattern[str] | None = None) -> bool:
    """Whether `name` is one of our temp file names (for a target matching `target_pattern`)."""
    found = _TEMP_NAME.match(name)
    if found is None:
        return False
    target = found.group("stem") + (found.group("suffix") or "")
    return target_pattern is None or bool(target_pattern.match(target))


def write_error(target: Path, err: OSError) -> WaveflowError:
    """The one-line error for an OSError met while writing `target`."""
    cause = err.strerror or str(err) or type(err).__name__
    if err.errno == errno.ENOSPC:
        cause = "no space left on device (disk full)"
    elif err.errno == errno.EDQUOT:
        cause = "disk quota exceeded"
    return WaveflowError(f"cannot write {target}: {cause}")


def find_in_chain(err: BaseException, kind: type[BaseException]) -> BaseException | None:
    """`err` or the first exception of type `kind` in its cause/context chain."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a binary temp file next to ``path``, then move it to ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
