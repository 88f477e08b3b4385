"""Running a command so that every failure ends as one line: the `waveflow` command and the
recipes' scripts share :func:`run_reporting_errors`.

Bad input (`WaveflowError`), file system errors and running out of memory print
`"{prog}: error: {message}"` (exit 1; `WAVEFLOW_DEBUG=1` re-raises with the traceback); Ctrl-C
and SIGTERM stop the command with `"{prog}: interrupted"` / `"{prog}: terminated"` (exit 130 /
143) after the partial output files are removed by the writers' own clean-up; Python warnings
print as `"{prog}: warning: ..."`, one line each.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import warnings
from collections.abc import Callable

from waveflow.atomic import find_in_chain

#: Longest error line printed; longer messages are cut (WAVEFLOW_DEBUG=1 shows them whole).
MAX_MESSAGE = 600


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


def run_reporting_errors(prog: str, func: Callable[[], int | None]) -> int:
    """Run ``func`` as the command ``prog``: its exit code, or one line on stderr (see above)."""
    with warnings.catch_warnings(), _sigterm_as_interrupt():
        warnings.showwarning = _warning_printer(prog)
        try:
            return int(func() or 0)
        except KeyboardInterrupt as err:
            return _interrupted(prog, err)
        except BaseException as err:
            interrupt = find_in_chain(err, KeyboardInterrupt)
            if interrupt is not None:
                return _interrupted(prog, interrupt)
            if not _is_reportable(err) or os.environ.get("WAVEFLOW_DEBUG"):
                raise
            print(f"{prog}: error: {describe(err)}", file=sys.stderr)
            return 1


def describe(err: BaseException) -> str:
    """The one-line message printed for `err` (cut to `MAX_MESSAGE` characters)."""
    if is_out_of_memory(err):
        detail = " ".join(str(err).split())
        size = _allocation_size(detail)
        text = (
            f"out of memory{size}: the input or the model is too large for this machine "
            "(try a smaller --batch-size, shorter inputs, or another --device)"
        )
    else:
        text = " ".join(str(err).split()) or type(err).__name__
    if len(text) > MAX_MESSAGE:
        text = (
            text[: MAX_MESSAGE - 60] + f" ... ({len(text)} characters; WAVEFLOW_DEBUG=1 shows all)"
        )
    return text


def _is_reportable(err: BaseException) -> bool:
    # WaveflowError is a ValueError; OSError covers the file system (disk full, permissions).
    return isinstance(err, (ValueError, OSError)) or is_out_of_memory(err)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocator running out of memory (CPU or CUDA, or ``MemoryError``).

    torch is only consulted when already imported, so this module stays cheap to import.
    """
    if isinstance(err, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(
        marker in text
        for marker in (
            "not enough memory",
            "out of memory",
            "can't allocate memory",
            "tried to allocate",
            "defaultcpuallocator",
        )
    )


def _allocation_size(text: str) -> str:
    found = re.search(r"allocate (\d+) bytes", text) or re.search(
        r"allocate ([\d.]+ [KMGT]i?B)", text
    )
    if not found:
        return ""
    value = found.group(1)
    if value.isdigit():
        value = f"{int(value) / 2**30:.1f} GiB"
    return f" (an allocation of {value} failed)"


def _interrupted(prog: str, err: KeyboardInterrupt) -> int:
    if isinstance(err, Terminated):
        print(f"{prog}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    print(f"{prog}: interrupted", file=sys.stderr)
    return 130


class _sigterm_as_interrupt:
    """Within the block, SIGTERM raises `Terminated` in the main thread (then restored)."""

    def __enter__(self) -> None:
        self.previous = None
        try:
            self.previous = signal.signal(signal.SIGTERM, _raise_terminated)
        except ValueError:  # not the main thread: leave the signal alone
            pass

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _warning_printer(prefix: str):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        line = f"{prefix}: warning: {' '.join(str(message).split())}"
        if "tqdm" in sys.modules:  # do not break a progress bar
            sys.modules["tqdm"].tqdm.write(line, file=file or sys.stderr)
        else:
            print(line, file=file or sys.stderr)

    return show
