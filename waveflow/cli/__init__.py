"""The `waveflow` command line: `main` discovers the subcommands in `waveflow.cli.commands` and
runs one; `argtypes` (argument types) and `outputs` (the output-file checks and the
`--no-overwrite` option) serve the subcommands. Only this package parses arguments.

Every failure ends as one line on stderr (`waveflow CMD: error: ...`, exit 1; set
`WAVEFLOW_DEBUG=1` for the traceback): bad input (`WaveflowError`), file system errors, running
out of memory. Ctrl-C and SIGTERM stop the command with `waveflow CMD: interrupted` /
`waveflow CMD: terminated` (exit 130 / 143) after the partial output files are removed. Python
warnings are printed as `waveflow CMD: warning: ...`, one line each
(:func:`waveflow.reporting.run_reporting_errors`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import pkgutil
import sys
from collections.abc import Iterator

from waveflow import __version__
from waveflow.cli import commands
from waveflow.limits import ENV, LIMITS, Limits, load_environment, parse_limit
from waveflow.reporting import run_reporting_errors


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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # e.g. quoted in reports
    if args.command is None:
        parser.print_help()
        return 2
    prefix = f"waveflow {args.command}"
    with _restored(LIMITS):
        try:
            load_environment()
        except ValueError as err:
            print(f"{prefix}: error: {err}", file=sys.stderr)
            return 2
        for name in ENV:
            if getattr(args, name, None) is not None:
                setattr(LIMITS, name, getattr(args, name))
        return run_reporting_errors(prefix, lambda: args.func(args))


@contextlib.contextmanager
def _restored(limits: Limits) -> Iterator[None]:
    """Put the limits back after the command (main() may be called again in one process)."""
    saved = dataclasses.replace(limits)
    try:
        yield
    finally:
        for field in dataclasses.fields(Limits):
            setattr(limits, field.name, getattr(saved, field.name))
