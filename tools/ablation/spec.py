"""What to train: run specifications, seeds and the training budget.

A run is a YAML config file (named after its stem) or ``NAME:KEY=VALUE,KEY=VALUE`` overrides
of the ``--base`` config (``NAME:`` alone is the base config itself). A value may contain
commas; a comma starts a new override only where ``KEY=`` follows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from waveflow.errors import WaveflowError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_NEXT_OVERRIDE = re.compile(r",(?=\s*[A-Za-z_][\w.]*=)")
#: budget kind -> (clock of the engine's time budget or None, unit in words)
BUDGETS = {
    "steps": (None, "optimizer steps"),
    "cpu": ("process", "process CPU seconds (time.process_time)"),
    "minutes": ("wall", "wall-clock minutes"),
}


@dataclass(frozen=True)
class RunSpec:
    """One configuration to train: `config` plus `overrides`, results under `name`."""

    name: str
    config: Path
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    """The same training budget for every run: `amount` of `kind` (see `BUDGETS`)."""

    kind: str
    amount: float

    def describe(self, threads: int) -> str:
        unit = BUDGETS[self.kind][1]
        amount = f"{self.amount:g}"
        if self.kind == "steps":
            return f"{amount} {unit} per run"
        return f"{amount} {unit} of training steps per run, {threads} torch thread(s)"

    def overrides(self, max_steps: int) -> list[str]:
        """The `train.*` overrides that make the engine stop at this budget."""
        if self.kind == "steps":
            return [f"train.steps={int(self.amount)}"]
        seconds = self.amount * 60 if self.kind == "minutes" else self.amount
        clock = BUDGETS[self.kind][0]
        overrides = [
            f"train.steps={max_steps}",
            f"train.budget_seconds={seconds}",
            f"train.budget_clock={clock}",
        ]
        if clock == "process":  # data-loading workers' CPU time would not be counted
            overrides.append("train.num_workers=0")
        return overrides


def parse_budget(text: str) -> Budget:
    """`steps:N`, `cpu:SECONDS` (process CPU time) or `minutes:M` (wall clock)."""
    kind, _, amount = text.partition(":")
    if kind not in BUDGETS:
        raise WaveflowError(f"--budget {text!r}: expected steps:N, cpu:SECONDS or minutes:M")
    try:
        value = float(amount)
    except ValueError:
        raise WaveflowError(f"--budget {text!r}: {amount!r} is not a number") from None
    if value <= 0 or (kind == "steps" and value != int(value)):
        raise WaveflowError(f"--budget {text!r}: the amount must be positive (whole steps)")
    return Budget(kind, value)


def parse_run(text: str, base: Path | None) -> RunSpec:
    """A run from the command line: a YAML path or `NAME:KEY=VALUE,...` (needs `base`)."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise WaveflowError(f"run {text!r}: config file not found")
        return RunSpec(_checked_name(path.stem, text), path, ())
    name, sep, rest = text.partition(":")
    if not sep:
        raise WaveflowError(
            f"run {text!r} is neither a YAML file nor NAME:KEY=VALUE,... overrides of --base"
        )
    if base is None:
        raise WaveflowError(f"run {text!r} overrides the base config: give --base FILE")
    overrides = tuple(part.strip() for part in _NEXT_OVERRIDE.split(rest) if part.strip())
    for override in overrides:
        if "=" not in override:
            raise WaveflowError(f"run {text!r}: {override!r} is not KEY=VALUE")
    return RunSpec(_checked_name(name, text), base, overrides)


def parse_runs(texts: list[str], base: Path | None) -> list[RunSpec]:
    """All runs, with distinct names."""
    if not texts:
        raise WaveflowError("no run given: name YAML files and/or NAME:KEY=VALUE,... sets")
    runs = [parse_run(text, base) for text in texts]
    names = [run.name for run in runs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise WaveflowError(f"run name(s) given twice: {', '.join(duplicates)}")
    return runs


def _checked_name(name: str, text: str) -> str:
    if not _NAME.match(name):
        raise WaveflowError(
            f"run {text!r}: name {name!r} must be letters, digits and _.+- (a directory name)"
        )
    return name
