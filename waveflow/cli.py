"""The `waveflow` command: discovers the subcommands in `waveflow.commands` and runs one.

Every failure ends as one line on stderr (`waveflow CMD: error: ...`, exit 1; set
`WAVEFLOW_DEBUG=1` for the traceback): bad input (`WaveflowError`), file system errors, running
out of memory. Ctrl-C and SIGTERM stop the command with `waveflow CMD: interrupted` /
`waveflow CMD: terminated` (exit 130 / 143) after the partial output files are removed. Python
warnings are printed as `waveflow CMD: warning: ...`, one line each.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import os
import pkgutil
import re
import signal
import sys
import warnings
from collections.abc import Iterator

from waveflow import __version__, commands
from waveflow.atomic import find_in_chain
from waveflow.limits import ENV, LIMITS, Limits, load_environment, parse_limit

#: Longest error line printed; longer messages are cut (WAVEFLOW_DEBUG=1 shows them whole).
MAX_MESSAGE = 600


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waveflow",
        description="Normalizing flows for audio (WaveGlow vocoder) and images (Glow).",
    )
    parser.add_argument("--version", action="version", version=f"waveflow {__version__}")
    limits = parser.add_argument_group("limits on what an input file may ask for")
    for name, help_text in (
        ("max_model_params", "parameters a checkpoint's model may have (default %s)"),
        ("max_decompressed_mb", "MB a compressed data file may expand to (default %s)"),
        ("max_metric_seconds", "seconds of audio PESQ/STOI/MCD/F0 are computed on (default %s)"),
    ):
        limits.add_argument(
            "--" + name.replace("_", "-"),
            type=_limit_type(name),
            metavar="N",
            help=help_text % f"{getattr(LIMITS, name):g}" + f"; also {ENV[name]}",
        )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").add_parser(subparsers)
    return parser


def _limit_type(name: str):
    def parse(text: str) -> int:
        try:
            return parse_limit(text, "--" + name.replace("_", "-"))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    prefix = f"waveflow {args.command}"
    with warnings.catch_warnings(), _sigterm_as_interrupt(), _restored(LIMITS):
        try:
            load_environment()
        except ValueError as err:
            print(f"{prefix}: error: {err}", file=sys.stderr)
            return 2
        for name in ENV:
            if getattr(args, name, None) is not None:
                setattr(LIMITS, name, getattr(args, name))
        warnings.showwarning = _warning_printer(prefix)
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt as err:
            return _interrupted(prefix, err)
        except BaseException as err:
            interrupt = find_in_chain(err, KeyboardInterrupt)
            if interrupt is not None:
                return _interrupted(prefix, interrupt)
            if not _is_reportable(err) or os.environ.get("WAVEFLOW_DEBUG"):
                raise
            print(f"{prefix}: error: {describe(err)}", file=sys.stderr)
            return 1


def describe(err: BaseException) -> str:
    """The one-line message printed for `err` (cut to `MAX_MESSAGE` characters)."""
    if _is_out_of_memory(err):
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
    return isinstance(err, (ValueError, OSError)) or _is_out_of_memory(err)


def _is_out_of_memory(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and any(
        marker in text
        for marker in (
            "not enough memory",
            "out of memory",
            "can't allocate memory",
            "DefaultCPUAllocator",
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


def _interrupted(prefix: str, err: KeyboardInterrupt) -> int:
    if isinstance(err, Terminated):
        print(f"{prefix}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    print(f"{prefix}: interrupted", file=sys.stderr)
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


@contextlib.contextmanager
def _restored(limits: Limits) -> Iterator[None]:
    """Put the limits back after the command (main() may be called again in one process)."""
    saved = dataclasses.replace(limits)
    try:
        yield
    finally:
        for field in dataclasses.fields(Limits):
            setattr(limits, field.name, getattr(saved, field.name))


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


if __name__ == "__main__":
    sys.exit(main())
