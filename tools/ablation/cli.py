"""Command line of ``tools/ablate.py``: parse, train every (run, seed), score, report."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from waveflow.atomic import atomic_write_text
from waveflow.audio.metrics.registry import resolve_metrics
from waveflow.errors import WaveflowError
from waveflow.reporting import run_reporting_errors

from .corpus import TestSet, load_test_set
from .report import aggregate, markdown_table, plot_curves
from .runner import (
    RunSettings,
    check_same_test_set,
    read_result,
    run_config,
    run_dir,
    train_and_score,
)
from .scoring import DEFAULT_METRICS, copy_synthesis_scores, griffin_lim_renderer
from .spec import parse_budget, parse_runs

GRIFFIN_LIM_NAME = "griffin_lim.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python tools/ablate.py",
        description="Train vocoder configurations for the same budget over several seeds and "
        "report held-out NLL and copy-synthesis metrics (mean and spread over seeds).",
    )
    parser.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="a YAML config, or NAME:KEY=VALUE,... overrides of --base (NAME: = the base)",
    )
    parser.add_argument("--base", type=Path, metavar="FILE", help="base config for NAME:... runs")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override applied to every run (e.g. data.root=DIR); repeatable",
    )
    parser.add_argument(
        "--budget",
        required=True,
        help="per run: steps:N, cpu:SECONDS (process CPU time) or minutes:M (wall clock)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (3)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first..first+n-1")
    parser.add_argument(
        "--eval-every", type=int, required=True, metavar="STEPS",
        help="keep a checkpoint every STEPS steps; each is scored for the NLL curve",
    )  # fmt: skip
    parser.add_argument(
        "--max-steps", type=int, default=10**9, help="step cap of time budgets (unlimited)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (fixed; 1)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--test-utterances", type=int, help="score the first N test utterances")
    parser.add_argument("--sigma", type=float, default=0.6, help="synthesis sigma (0.6)")
    parser.add_argument(
        "--metrics",
        default=",".join(DEFAULT_METRICS),
        help=f"copy-synthesis metrics ({','.join(DEFAULT_METRICS)})",
    )
    parser.add_argument(
        "--curve-metrics",
        default="",
        help="copy-synthesis metrics to score at EVERY checkpoint too, for metric-vs-minutes "
        "curves (e.g. mel,stoi; default: NLL only)",
    )
    parser.add_argument("--no-griffin-lim", action="store_true", help="skip the reference row")
    parser.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep every scored checkpoint of a finished run (default: only the last)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing: report the finished runs"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train what is missing, then write OUT/report.{md,json} and OUT/nll_vs_minutes.png."""
    for name in ("seeds", "eval_every", "threads", "max_steps"):
        if getattr(args, name) < 1:
            raise WaveflowError(f"--{name.replace('_', '-')} must be >= 1")
    torch.set_num_threads(args.threads)
    budget = parse_budget(args.budget)
    specs = parse_runs(args.runs, args.base)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    curve_metrics = tuple(m.strip() for m in args.curve_metrics.split(",") if m.strip())
    resolve_metrics(metrics)  # an unknown name fails now, not after the training
    if curve_metrics:
        resolve_metrics(curve_metrics)
    settings = RunSettings(
        budget,
        args.eval_every,
        args.max_steps,
        args.device,
        args.sigma,
        metrics,
        tuple(args.set),
        args.keep_checkpoints,
        curve_metrics,
    )
    out: Path = args.out
    check_same_test_set(specs, settings, out)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    first = run_config(specs[0], 0, run_dir(out, specs[0], 0), settings)
    test = load_test_set(first.data, first.loss.sigma, args.test_utterances)
    results: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        for seed in seeds:
            result = read_result(out, spec, seed, settings, test)
            if result is None and not args.report_only:
                _log(f"training {spec.name} seed {seed} ({budget.describe(args.threads)})")
                result = train_and_score(spec, seed, out, settings, test)
            elif result is not None:
                _log(f"{spec.name} seed {seed}: done earlier, skipped")
            if result is not None:
                results.setdefault(spec.name, []).append(result)
    if not results:
        raise WaveflowError(f"no finished run in {out} to report")
    reference = None if args.no_griffin_lim else _griffin_lim(out, test, metrics)
    return _write_report(args, budget, results, reference, test)


def _griffin_lim(out: Path, test: TestSet, metrics: tuple[str, ...]) -> dict[str, float]:
    path = out / GRIFFIN_LIM_NAME
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("ids") == test.ids and stored.get("metrics") == list(metrics):
            return stored["scores"]
    scores = copy_synthesis_scores(griffin_lim_renderer(test), test, metrics)
    record = {"ids": test.ids, "metrics": list(metrics), "scores": scores}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return scores


def _write_report(args, budget, results, reference, test) -> dict[str, Any]:
    clock = "wall" if budget.kind == "minutes" else "process"
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    machine = (
        f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    budget_text = budget.describe(args.threads)
    summary = aggregate(results)
    header = (
        f"Ablation, {now}, {machine}, torch {torch.__version__} on {args.device}. "
        f"Budget: {budget_text}. Seeds per config: {args.seeds}. Scored on {len(test.files)} "
        f"held-out utterances; synthesis sigma {args.sigma}; mean ± std over seeds "
        f"(min/max in report.json)."
    )
    table = markdown_table(summary, reference)
    report = {
        "date_utc": now,
        "machine": machine,
        "command": " ".join(sys.argv),
        "budget": {"kind": budget.kind, "amount": budget.amount, "text": budget_text},
        "threads": args.threads,
        "device": args.device,
        "test_ids": test.ids,
        "sigma": args.sigma,
        "configs": summary,
        "griffin_lim": reference,
        "runs": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "report.md", header + "\n\n" + table + "\n")
    atomic_write_text(args.out / "report.json", json.dumps(_clean(report), indent=2) + "\n")
    plot_curves(results, clock, args.out / "nll_vs_minutes.png", f"budget: {budget_text}")
    print(header + "\n\n" + table)
    return report


def _clean(value: Any) -> Any:
    """NaN/inf become null, so the JSON is standard."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _log(line: str) -> None:
    print(f"[ablate {time.strftime('%H:%M:%S')}] {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def ablate() -> None:
        run(args)

    return run_reporting_errors("ablate", ablate)
