"""User-facing errors.

`WaveflowError` is raised for bad input that a user can fix (wrong shapes, corrupt files, bad
config keys). The command line prints such errors as one line, without a traceback
(:func:`waveflow.reporting.run_reporting_errors`, shared by `waveflow` and the recipes'
scripts).
"""

from __future__ import annotations


class WaveflowError(ValueError):
    """An error caused by user input; its message is a complete, one-line explanation."""


def about(path: object, err: BaseException) -> str:
    """`err`'s message, prefixed with `path` unless it already names it."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if str(path) in text else f"{path}: {text}"
