"""The ablation's outputs: per-configuration mean and spread over seeds, as Markdown, JSON and
a PNG of held-out NLL against training minutes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from waveflow.atomic import atomic_path

#: (result key, column title, decimals); higher is better for stoi, estoi and pesq_wb.
COLUMNS = (
    ("nll_bits_per_sample", "held-out NLL (bits/sample)", 3),
    ("mel_l1", "log-mel L1", 3),
    ("mrstft_sc", "MR-STFT SC", 3),
    ("mrstft_logmag", "MR-STFT log-mag", 3),
    ("stoi", "STOI", 3),
    ("pesq_wb", "PESQ (wb)", 2),
    ("f0_rmse_cents", "F0 RMSE (cents)", 0),
    ("vuv_error", "V/UV error", 3),
)
TIME_KEYS = ("steps", "process_s", "wall_s")


def spread(values: Sequence[float]) -> dict[str, float]:
    """mean, std (population, 0 for one seed), min and max of the finite values; n counts them."""
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return {"n": 0}
    array = np.asarray(finite, dtype=float)
    return {
        "n": len(finite),
        "mean": float(array.mean()),
        "std": float(array.std()),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def aggregate(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per configuration: the seeds done and the spread of every column and time key."""
    summary = {}
    for name, runs in results.items():
        keys = [key for key, _, _ in COLUMNS] + list(TIME_KEYS)
        summary[name] = {
            "seeds": [run["seed"] for run in runs],
            **{key: spread([run.get(key, math.nan) for run in runs]) for key in keys},
        }
    return summary


def _cell(stats: dict[str, float], decimals: int) -> str:
    if stats.get("n", 0) == 0:
        return "n/a"
    if stats["n"] == 1:
        return f"{stats['mean']:.{decimals}f}"
    return f"{stats['mean']:.{decimals}f} ± {stats['std']:.{decimals}f}"


def markdown_table(summary: dict[str, dict[str, Any]], reference: dict[str, float] | None) -> str:
    """One row per configuration (mean ± std over seeds) and the Griffin-Lim reference row."""
    headers = ["config", "seeds", "steps", "CPU min", "wall min", *(t for _, t, _ in COLUMNS)]
    rows = []
    for name, stats in summary.items():
        rows.append(
            [
                name,
                str(len(stats["seeds"])),
                _cell(stats["steps"], 0),
                _cell(_scaled(stats["process_s"], 1 / 60), 2),
                _cell(_scaled(stats["wall_s"], 1 / 60), 2),
                *(_cell(stats[key], decimals) for key, _, decimals in COLUMNS),
            ]
        )
    if reference is not None:
        rows.append(
            ["Griffin-Lim (reference)", "-", "-", "-", "-"]
            + [
                "n/a" if key not in reference else f"{reference[key]:.{decimals}f}"
                for key, _, decimals in COLUMNS
            ]
        )
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _scaled(stats: dict[str, float], factor: float) -> dict[str, float]:
    return {k: (v if k == "n" else v * factor) for k, v in stats.items()}


#: curve quantities that can be plotted: (key, axis label)
CURVE_PANELS = (
    ("nll_bits_per_sample", "held-out NLL (bits/sample, lower is better)"),
    ("mel_l1", "log-mel L1 (lower is better)"),
    ("stoi", "STOI (higher is better)"),
    ("pesq_wb", "PESQ wb (higher is better)"),
    ("f0_rmse_cents", "F0 RMSE, cents (lower is better)"),
)


def plot_curves(
    results: dict[str, list[dict[str, Any]]], clock: str, path: Path, title: str
) -> None:
    """Held-out NLL of every checkpoint against minutes on `clock` ("process" or "wall"),
    one colour per configuration, one line per seed; one more panel per copy-synthesis metric
    scored along the curve (`--curve-metrics`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [point for runs in results.values() for run in runs for point in run["curve"]]
    panels = [(key, label) for key, label in CURVE_PANELS if any(key in p for p in points)]
    width = 7 if len(panels) == 1 else 5 * len(panels)
    figure, axes_row = plt.subplots(1, len(panels), figsize=(width, 4.5), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    what = "process CPU" if clock == "process" else "wall-clock"
    for axes, (key, label) in zip(axes_row[0], panels, strict=True):
        for index, (name, runs) in enumerate(results.items()):
            colour = colours[index % len(colours)]
            for number, run in enumerate(runs):
                curve = [point for point in run["curve"] if key in point]
                minutes = [point[f"{clock}_s"] / 60 for point in curve]
                values = [point[key] for point in curve]
                axes.plot(
                    minutes, values, marker="o", markersize=3, color=colour, lw=1,
                    label=name if number == 0 else None,
                )  # fmt: skip
        axes.set_xlabel(f"training time, {what} minutes")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    axes_row[0][0].set_title(title, fontsize=9)
    axes_row[0][0].legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)
