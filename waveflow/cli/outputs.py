"""The overwrite policy of the commands that write files (synthesize, copy-synthesis, mel,
convert, sample, evaluate --html).

Existing outputs are replaced by default (atomically) and the summary says how many were;
with `--no-overwrite` an existing output is an error for that file (reported, the others still
written, exit code 1). An output name taken by a folder is always an error for that file.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-overwrite",
        action="store_true",
        help="refuse to replace existing output files (default: replace them and say how many)",
    )


@dataclass
class OutputCheck:
    """`blocked`: outputs not to write, with the reason; `replacing`: existing files to replace."""

    blocked: dict[Path, str] = field(default_factory=dict)
    replacing: list[Path] = field(default_factory=list)



def check_outputs(paths: Iterable[Path], no_overwrite: bool) -> OutputCheck:
    """Apply the policy to the outputs about to be written."""
    check = OutputCheck()
    for path in paths:
        if path.is_dir():
            check.blocked[path] = f"{path}: the output name is taken by a folder"
        elif path.exists() or path.is_symlink():
            if no_overwrite:
                check.blocked[path] = f"{path} exists (--no-overwrite)"
            else:
                check.replacing.append(path)
    return check
