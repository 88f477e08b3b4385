"""argparse value types that refuse bad numbers at the option, naming it.

`--sigma -1`, `--denoise nan` or `--sample-rate 0` fail while the arguments are parsed
(`waveflow synthesize: error: argument --sigma: must be a positive finite number, got '-1'`),
instead of deep inside a model, silently, or by falling back to a default.
"""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _finite(text, "a positive finite number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _finite(text, "a finite number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def nonnegative_floats(text: str) -> tuple[float, ...]:
    """A comma-separated list of finite numbers >= 0 (at least one)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of numbers, got {text!r}")
    try:
        return tuple(nonnegative_float(part) for part in parts)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of finite numbers >= 0, got {text!r}"
        ) from None
