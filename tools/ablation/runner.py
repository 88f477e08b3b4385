"""Train one (configuration, seed) within the budget and score its checkpoints.

Layout of the output directory::

    OUT/runs/<name>/seed<k>/            the engine's exp_dir (config.yaml, ckpt_*.pt, tb/)
    OUT/runs/<name>/seed<k>/result.json this run's scores (its presence = done, skipped later)

Training resumes from the run's latest checkpoint, so an interrupted ablation continues
where it stopped. Every kept checkpoint (one every `eval_every` steps) is scored by its
held-out NLL at its training time (and by the `curve_metrics`, if any); the last one also by
copy-synthesis metrics. Once the
result is written, only the last checkpoint is kept (unless `keep_checkpoints`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from waveflow.atomic import atomic_write_text
from waveflow.checkpoint import load_checkpoint, model_from_checkpoint
from waveflow.errors import WaveflowError
from waveflow.train.config import ExperimentConfig, load_config
from waveflow.train.rotation import BEST_NAME, list_checkpoints

from .corpus import TestSet
from .scoring import copy_synthesis_scores, nll_bits, vocoder_renderer
from .spec import Budget, RunSpec

RESULT_NAME = "result.json"


@dataclass(frozen=True)
class RunSettings:
    """What every run shares: budget, checkpoint interval, device and the scoring options."""

    budget: Budget
    eval_every: int
    max_steps: int
    device: str
    sigma: float
    metrics: tuple[str, ...]
    common: tuple[str, ...]  # overrides applied to every run (e.g. data.root=...)
    keep_checkpoints: bool = False  # keep every scored checkpoint (default: only the last)
    curve_metrics: tuple[str, ...] = ()  # copy-synthesis metrics of every checkpoint, too


def fingerprint(spec: RunSpec, settings: RunSettings, test: TestSet) -> dict[str, Any]:
    """What a stored result must have been made with to be reused."""
    return {
        "config": str(spec.config),
        "overrides": [*settings.common, *spec.overrides],
        "budget": {"kind": settings.budget.kind, "amount": settings.budget.amount},
        "eval_every": settings.eval_every,
        "sigma": settings.sigma,
        "metrics": list(settings.metrics),
        "test_ids": test.ids,
        **({"curve_metrics": list(settings.curve_metrics)} if settings.curve_metrics else {}),
    }


def run_dir(out: Path, spec: RunSpec, seed: int) -> Path:
    return out / "runs" / spec.name / f"seed{seed}"


def run_config(
    spec: RunSpec, seed: int, directory: Path, settings: RunSettings
) -> ExperimentConfig:
    """The experiment config of one run: the spec's, then the budget, seed and outputs."""
    forced = [
        f"train.seed={seed}",
        f"train.exp_dir={directory}",
        f"train.ckpt_every={settings.eval_every}",
        "train.keep_last=0",
        "train.valid_every=0",
        "train.media_every=0",
        f"train.device={settings.device}",
        "train.resume=null",
        *settings.budget.overrides(settings.max_steps),
    ]
    config = load_config(spec.config, [*settings.common, *spec.overrides, *forced])
    if config.task not in ("waveglow", "waveflow"):
        raise WaveflowError(
            f"run {spec.name}: task {config.task!r}; the ablation scores vocoders (waveglow, "
            "waveflow)"
        )
    return config


def train_and_score(
    spec: RunSpec, seed: int, out: Path, settings: RunSettings, test: TestSet
) -> dict[str, Any]:
    """Train (or resume) one run and write its `result.json`; returns the result."""
    from waveflow.train.engine import train

    directory = run_dir(out, spec, seed)
    config = run_config(spec, seed, directory, settings)
    train(config, resume="auto")
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        raise WaveflowError(f"run {spec.name} seed {seed}: no checkpoint in {directory}")
    curve = []
    for path in checkpoints:
        ckpt = load_checkpoint(path)
        model = model_from_checkpoint(ckpt, path).to(settings.device).eval()
        clock = ckpt.get("clock", {})
        point = {
            "step": int(ckpt["step"]),
            "process_s": float(clock.get("process_s", float("nan"))),
            "wall_s": float(clock.get("wall_s", float("nan"))),
            "nll_bits_per_sample": nll_bits(model, test, settings.device),
        }
        if settings.curve_metrics:
            render = vocoder_renderer(model, settings.sigma, settings.device)
            point.update(copy_synthesis_scores(render, test, settings.curve_metrics))
        curve.append(point)
    render = vocoder_renderer(model, settings.sigma, settings.device)
    result = {
        "name": spec.name,
        "seed": seed,
        "made_with": fingerprint(spec, settings, test),
        "steps": curve[-1]["step"],
        "process_s": curve[-1]["process_s"],
        "wall_s": curve[-1]["wall_s"],
        "nll_bits_per_sample": curve[-1]["nll_bits_per_sample"],
        **copy_synthesis_scores(render, test, settings.metrics),
        "curve": curve,
    }
    atomic_write_text(directory / RESULT_NAME, json.dumps(result, indent=2) + "\n")
    if not settings.keep_checkpoints:  # each holds the optimizer state too: ~12x the model
        for path in [*checkpoints[:-1], directory / BEST_NAME]:
            path.unlink(missing_ok=True)
    return result


def read_result(
    out: Path, spec: RunSpec, seed: int, settings: RunSettings, test: TestSet
) -> dict[str, Any] | None:
    """The stored result of a finished run, or None; one made otherwise is an error."""
    path = run_dir(out, spec, seed) / RESULT_NAME
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise WaveflowError(
            f"{path}: unreadable result ({err}); delete it to redo the run"
        ) from err
    expected = fingerprint(spec, settings, test)
    stored = result.get("made_with", {})
    for key, value in expected.items():
        if stored.get(key) != value:
            raise WaveflowError(
                f"{path} was made with {key} {stored.get(key)!r}, not {value!r}: use another "
                "--out (or delete that run's folder to redo it)"
            )
    return result


def check_same_test_set(specs: Sequence[RunSpec], settings: RunSettings, out: Path) -> None:
    """Every run must be scored on the same utterances: compare their test splits."""
    from .corpus import test_files

    reference: list[str] | None = None
    for spec in specs:
        config = run_config(spec, 0, run_dir(out, spec, 0), settings)
        ids = [path.stem for path in test_files(config.data)]
        if reference is None:
            reference, first = ids, spec.name
        elif ids != reference:
            raise WaveflowError(
                f"runs {first} and {spec.name} have different test splits: every run must use "
                "the same corpus and data.n_valid / data.n_test / data.split_seed / file lists"
            )
