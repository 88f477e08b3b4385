"""A listening report: one static HTML page to hear and see vocoder output beside the recordings.

`write_listening_report(page, ref_dir, systems, ...)` writes `page` (e.g. `report.html`) and,
beside it, the folder `<page stem>_files/`: a copy of every audio file the page plays
(`recording/`, one folder per system) and one PNG per system and clip (reference / system /
difference log-mel, `waveflow.audio.metrics.plots.plot_file_comparison`). The page has, per clip, a
player for the recording and for every system with the system's spectrogram PNG and metrics,
the best value of each metric marked; above them the summary table (mean, std, n per system,
best marked), and below them the settings and the command that made it.

Self-contained and offline: inline CSS, no script, every link a relative path into the folder,
nothing fetched from the network; the page and its folder can be moved or zipped together and
opened from disk. Files rather than data URIs: a report of a test set holds minutes of audio
(megabytes), which base64 would grow by a third and load all at once into one HTML file;
files beside the page load only when played (`preload="metadata"`) and stay playable on their own.

A clip of the reference folder that a system lacks is shown as missing in its row (and listed
under the summary), never dropped; a clip whose evaluation failed is shown as failed.
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waveflow.atomic import atomic_path
from waveflow.audio.metrics.dirs import audio_files
from waveflow.audio.metrics.registry import HIGHER_IS_BETTER
from waveflow.errors import WaveflowError

RECORDING = "recording"
BEST_MARK = "\u2605"  # a star after the best value of a column


@dataclass(frozen=True)
class SystemResult:
    """One system's audio folder and its metrics against the reference recordings.

    `per_file`: clip stem -> {result key: value} (as `evaluate_dirs` returns; NaN = undefined);
    `summary`: result key -> {"mean", "std", "n"} (`summarize`)."""

    name: str
    directory: Path
    per_file: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    summary: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def media_folder(page: str | os.PathLike[str]) -> Path:
    """The folder beside `page` that holds its audio and PNGs: `<page stem>_files`."""
    page = Path(page)
    return page.with_name(f"{page.stem}_files")


def write_listening_report(
    page: str | os.PathLike[str],
    ref_dir: str | os.PathLike[str],
    systems: Sequence[SystemResult],
    sample_rate: int,
    *,
    title: str = "Listening report",
    settings: Mapping[str, Any] | None = None,
    command: str = "",
    config_text: str | None = None,
    plots: bool = True,
    note_extra_clips: bool = True,
) -> Path:
    """Write the page and its media folder (replacing both if present); returns the folder.

    `systems` are shown in order, each against `ref_dir` (audio files paired by name stem, mono
    at `sample_rate` Hz). `settings` are shown as a list, `config_text` verbatim (e.g. the
    training YAML), `command` as the command that made the page. `plots=False` leaves out the
    spectrogram PNGs (they need matplotlib); `note_extra_clips=False` leaves out the note on a
    system's clips that have no recording (e.g. folders that hold several test sets). The media
    folder is written under a temporary name and swapped in whole; the page is written
    atomically.
    """
    page = Path(page)
    folders = _system_folders(systems)
    references = audio_files(ref_dir, "reference")
    if not references:
        raise WaveflowError(f"no audio files in the reference directory {ref_dir}")
    generated = [
        audio_files(system.directory, f"{system.name} ({system.directory})") for system in systems
    ]
    media = media_folder(page)
    partial = media.with_name(media.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        rows = {
            stem: [Cell(RECORDING, _copy(ref_path, partial / RECORDING))]
            + [
                _system_cell(stem, ref_path, system, files, partial / folder, sample_rate, plots)
                for system, folder, files in zip(systems, folders, generated, strict=True)
            ]
            for stem, ref_path in references.items()
        }
        unmatched = {
            system.name: sorted(files.keys() - references.keys()) if note_extra_clips else []
            for system, files in zip(systems, generated, strict=True)
        }
        text = _page(
            title, media.name, partial, rows, systems, unmatched, settings or {}, command,
            config_text,
        )  # fmt: skip
        if media.is_symlink() or media.is_file():
            media.unlink()
        elif media.exists():
            shutil.rmtree(media)
        partial.rename(media)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    with atomic_path(page) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return media


@dataclass(frozen=True)
class Cell:
    """One row of a clip's table: `audio` and `png` are paths in the media folder (None: none),
    `values` the system's metrics on the clip (None: not evaluated, or the recording)."""

    name: str
    audio: Path | None
    png: Path | None = None
    values: Mapping[str, float] | None = None


def _system_cell(
    stem: str,
    ref_path: Path,
    system: SystemResult,
    files: Mapping[str, Path],
    folder: Path,
    sample_rate: int,
    plots: bool,
) -> Cell:
    """Copy the system's file of clip `stem` into `folder` and plot it against the recording."""
    values = system.per_file.get(stem)
    if stem not in files:
        return Cell(system.name, None, None, values)
    audio = _copy(files[stem], folder)
    png = None
    if plots and values is not None:
        from waveflow.audio.metrics.plots import plot_file_comparison

        png = folder / f"{stem}.png"
        plot_file_comparison(ref_path, files[stem], png, sample_rate, f"{stem}: {system.name}")
    return Cell(system.name, audio, png, values)


def _system_folders(systems: Sequence[SystemResult]) -> list[str]:
    """A distinct, file-system-safe folder name per system (its name, slugged)."""
    folders, seen = [], {RECORDING}
    for system in systems:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", system.name).strip("._") or "system"
        if slug in seen:
            raise WaveflowError(
                f"two systems would share the report folder {slug!r} (names must differ and "
                f"not be {RECORDING!r}): give each --gen a NAME=DIR"
            )
        seen.add(slug)
        folders.append(slug)
    return folders


def _copy(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    return target


# ------------------------------------------------------------------------------------- HTML

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #d0d0d0; padding: .3em .6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
td.best { background: #e3f4e1; font-weight: 600; }
td.media { text-align: left; } audio { width: 320px; display: block; }
img.spectrogram { width: 480px; display: block; margin-top: .3em; }
.missing { color: #a40000; font-weight: 600; } .note { color: #555; }
pre { background: #f5f5f7; padding: .8em; overflow-x: auto; }
"""


def _page(
    title: str,
    media_name: str,
    media_root: Path,
    rows: Mapping[str, list[Cell]],
    systems: Sequence[SystemResult],
    unmatched: Mapping[str, list[str]],
    settings: Mapping[str, Any],
    command: str,
    config_text: str | None,
) -> str:
    def link(path: Path) -> str:
        return html.escape(f"{media_name}/{path.relative_to(media_root).as_posix()}", quote=True)

    e = html.escape
    keys = list(dict.fromkeys(k for s in systems for k in s.summary))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="note">{len(rows)} clip(s), {len(systems)} system(s). The best value of each '
        f"metric column is marked {BEST_MARK}; arrows say which direction is better.</p>",
        "<h2>Summary</h2>",
        _summary_table(systems, keys),
    ]
    for index, system in enumerate(systems, start=1):  # cells[0] is the recording
        own = {stem: cells[index] for stem, cells in rows.items()}
        missing = [stem for stem, cell in own.items() if cell.audio is None]
        failed = [stem for stem, c in own.items() if c.audio is not None and c.values is None]
        for label, stems in (("missing from", missing), ("not evaluated in", failed)):
            if stems:
                out.append(
                    f'<p class="missing">{len(stems)} clip(s) {label} {e(system.name)} '
                    f"({e(str(system.directory))}): {e(', '.join(stems))}</p>"
                )
        if unmatched.get(system.name):
            out.append(
                f'<p class="note">{e(system.name)} has {len(unmatched[system.name])} clip(s) '
                f"without a recording (not shown): {e(', '.join(unmatched[system.name]))}</p>"
            )
    for stem, cells in rows.items():
        out.append(f'<h2 id="{e(stem, quote=True)}">{e(stem)}</h2>')
        out.append(_clip_table(cells, keys, link))
    out.append("<h2>Settings</h2><table>")
    for key, value in settings.items():
        out.append(f"<tr><th>{e(str(key))}</th><td>{e(str(value))}</td></tr>")
    out.append("</table>")
    if config_text is not None:
        out.append(f"<h3>Config</h3><pre>{e(config_text)}</pre>")
    if command:
        out.append(f"<h3>Command</h3><pre>{e(command)}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _header(keys: Sequence[str]) -> str:
    arrows = "".join(
        f"<th>{html.escape(k)} {'&uarr;' if k in HIGHER_IS_BETTER else '&darr;'}</th>"
        for k in keys
    )
    return f"<tr><th>system</th>{arrows}</tr>"


def _best(values: Sequence[float], key: str) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if key in HIGHER_IS_BETTER else min(finite)


def _value_cell(value: float | None, best: float | None, text: str) -> str:
    if value is None or not math.isfinite(value):
        return "<td>n/a</td>"
    if best is not None and value == best:
        return f'<td class="best">{text} {BEST_MARK}</td>'
    return f"<td>{text}</td>"


def _summary_table(systems: Sequence[SystemResult], keys: Sequence[str]) -> str:
    if not keys:
        return '<p class="note">No metrics were computed.</p>'
    means = {k: [s.summary.get(k, {}).get("mean") for s in systems] for k in keys}
    best = {k: _best(means[k], k) if len(systems) > 1 else None for k in keys}
    rows = ["<table>", _header(keys)]
    for i, system in enumerate(systems):
        cells = []
        for key in keys:
            stats = system.summary.get(key)
            if stats is None or not math.isfinite(stats["mean"]):
                cells.append("<td>n/a</td>")
                continue
            text = f"{stats['mean']:.4f} &plusmn; {stats['std']:.4f} ({int(stats['n'])})"
            cells.append(_value_cell(means[key][i], best[key], text))
        rows.append(f"<tr><th>{html.escape(system.name)}</th>{''.join(cells)}</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _clip_table(cells: list[Cell], keys: Sequence[str], link: Callable[[Path], str]) -> str:
    scored = [cell for cell in cells if cell.values is not None]
    best = {
        k: _best([cell.values.get(k) for cell in scored if cell.values], k)
        if len(scored) > 1
        else None
        for k in keys
    }
    rows = ["<table>", _header(keys).replace("<th>system</th>", "<th>audio</th>")]
    for cell in cells:
        name = html.escape(cell.name)
        if cell.audio is None:
            media = f'<span class="missing">missing: no {name} audio for this clip</span>'
        else:
            media = f'<audio controls preload="metadata" src="{link(cell.audio)}"></audio>'
        if cell.png is not None:
            media += (
                f'<img class="spectrogram" src="{link(cell.png)}" alt="log-mel of the recording, '
                f'of {name} and their difference">'
            )
        if not keys:
            metrics = ""
        elif cell.name == RECORDING:
            metrics = f'<td colspan="{len(keys)}" class="note">the reference</td>'
        elif cell.values is None:
            note = "not evaluated" if cell.audio is not None else "missing"
            metrics = f'<td colspan="{len(keys)}" class="missing">{note}</td>'
        else:
            values = cell.values
            metrics = "".join(
                _value_cell(values.get(k), best[k], f"{values.get(k, math.nan):.4f}")
                for k in keys
            )
        rows.append(f'<tr><td class="media"><b>{name}</b>{media}</td>{metrics}</tr>')
    rows.append("</table>")
    return "\n".join(rows)
