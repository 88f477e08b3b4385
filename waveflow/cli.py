"""The `waveflow` command: discovers the subcommands in `waveflow.commands` and runs one."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from waveflow import __version__, commands
from waveflow.errors import run_reporting_errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waveflow",
        description="Normalizing flows for audio (WaveGlow vocoder) and images (Glow).",
    )
    parser.add_argument("--version", action="version", version=f"waveflow {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return run_reporting_errors(f"waveflow {args.command}", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
