"""User-facing errors.

`WaveflowError` is raised for bad input that a user can fix (wrong shapes, corrupt files, bad
config keys). The command line prints such errors as one line, without a traceback
(:func:`run_reporting_errors`, shared by `waveflow` and the recipes' scripts).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


class WaveflowError(ValueError):
    """An error caused by user input; its message is a complete, one-line explanation."""


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (its type name if it has none)."""
    return " ".join((str(err) or type(err).__name__).split())


def run_reporting_errors(prog: str, func: Callable[[], int | None]) -> int:
    """Run ``func`` as a command: its exit code, or one error line on stderr and exit code 1.

    User errors (``WaveflowError`` is a ``ValueError``) and OS errors print
    ``"{prog}: error: {message}"``; Ctrl-C prints ``"{prog}: interrupted"`` and returns 130.
    With ``WAVEFLOW_DEBUG=1`` in the environment errors propagate with their traceback.
    """
    try:
        return int(func() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        if os.environ.get("WAVEFLOW_DEBUG"):
            raise
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return 1
