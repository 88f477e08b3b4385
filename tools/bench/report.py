"""Output: a plain-text table on stdout and a JSON file written atomically.

The JSON file holds one section per command (``{"synth": {...}, "floor": {...}}``); writing a
command's section into an existing file keeps the other sections, so several commands can
record into one file. The file is replaced via a temporary file in the same directory, never
left half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from waveflow.errors import WaveflowError

MIB = 1024.0 * 1024.0


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def seconds_cell(timing: dict[str, float]) -> str:
    """``median [min-max]`` of a timing summary, in seconds (ms below 1 s)."""
    scale, unit = (1.0, "s") if timing["median_s"] >= 1.0 else (1000.0, "ms")
    return (
        f"{timing['median_s'] * scale:.3g} {unit} "
        f"[{timing['min_s'] * scale:.3g}-{timing['max_s'] * scale:.3g}]"
    )


def mib(num_bytes: float) -> str:
    return f"{num_bytes / MIB:,.0f}"


def write_section(path: Path, command: str, section: dict[str, Any]) -> None:
    """Store ``section`` under ``command`` in the JSON file ``path`` (atomic replace)."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise WaveflowError(f"--json {path}: exists but is not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise WaveflowError(f"--json {path}: exists but is not a JSON object of sections")
    data[command] = section
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=False)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
