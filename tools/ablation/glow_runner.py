"""Glow's coupling x permutation ablation (the paper's Figure 3) at an equal time budget.

Six small Glows (``additive``/``affine`` coupling x ``reverse``/``shuffle``/``conv1x1``
permutation) are trained in ONE process, interleaved round robin: each config in turn trains
for ``slice_s`` seconds of its own clock, until each has used ``budget_s``. Interleaving spreads
the noise of a shared machine evenly over the configs. The clock is either

* ``"cpu"``: the process CPU time (``time.process_time``) spent in that config's training steps,
  with a fixed torch thread count (robust to other jobs on the machine), or
* ``"wall"``: the wall-clock time spent in its training steps (the paper's axis).

Only training steps count towards a budget (forward, backward, optimiser step); evaluation does
not. Every config starts from the same seed, sees the same batches in the same order (its own
generator with the same seed) and is scored on the same dequantised test images (one fixed
uniform noise draw), so the curves differ only by the architecture.

This is a benchmark loop, not a second training engine: no checkpoints, no schedules beyond a
linear warm-up, no distributed training. Use ``waveflow train`` to train a model.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from waveflow.errors import WaveflowError
from waveflow.image.data import ImageDataConfig, load_split
from waveflow.image.glow import Glow
from waveflow.image.pixels import dequantize, reduce_bits

COUPLINGS = ("additive", "affine")
PERMUTATIONS = ("reverse", "shuffle", "conv1x1")
CLOCKS = ("cpu", "wall")


@dataclasses.dataclass
class AblationConfig:
    """Budget, model size and data of one ablation run (every config gets the same)."""

    data_root: str = "/usr/share/datasets/fashion-mnist"
    dataset: Literal["fashion_mnist", "mnist"] = "fashion_mnist"
    clock: Literal["cpu", "wall"] = "cpu"
    budget_s: float = 300.0  # training seconds per config, on `clock`
    slice_s: float = 5.0  # seconds a config trains before the next one takes its turn
    eval_every_s: float = 30.0  # test bits/dim every this many training seconds
    threads: int = 1  # torch intra-op threads (fixed, so CPU seconds compare)
    image_size: int = 32
    n_bits: int = 5
    n_levels: int = 2
    n_steps: int = 4
    hidden_channels: int = 64
    lu: bool = True
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 50
    n_test: int = 1000
    max_train: int | None = None
    seed: int = 0
    couplings: tuple[str, ...] = COUPLINGS
    permutations: tuple[str, ...] = PERMUTATIONS

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise WaveflowError(
                f"ablation: clock must be one of {list(CLOCKS)}, got {self.clock!r}"
            )
        for name in ("budget_s", "slice_s", "eval_every_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise WaveflowError(f"ablation: {name} must be a positive number, got {value!r}")
        for name in ("threads", "batch_size", "n_test", "warmup_steps"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"ablation: {name} must be > 0, got {getattr(self, name)}")
        self.couplings = tuple(self.couplings)
        self.permutations = tuple(self.permutations)
        for name, allowed in (("couplings", COUPLINGS), ("permutations", PERMUTATIONS)):
            chosen = getattr(self, name)
            bad = [c for c in chosen if c not in allowed]
            if bad or not chosen:
                raise WaveflowError(
                    f"ablation: {name} must be a non-empty subset of {list(allowed)}, got "
                    f"{list(chosen)}"
                )


@dataclasses.dataclass
class _Run:
    """One config being trained: its model, optimiser, batch stream and curve so far."""

    name: str
    coupling: str
    permutation: str
    model: Glow
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    used_s: float = 0.0
    steps: int = 0
    next_eval_s: float = 0.0
    diverged: bool = False
    curve: list[dict[str, float]] = dataclasses.field(default_factory=list)


def _clock(kind: str) -> Callable[[], float]:
    return time.process_time if kind == "cpu" else time.perf_counter


def _load(cfg: AblationConfig) -> tuple[Tensor, Tensor]:
    """Training levels ``[N, 1, S, S]`` (int64) and the fixed dequantised test images."""
    data_cfg = ImageDataConfig(dataset=cfg.dataset, root=cfg.data_root)
    train, _, _ = load_split(data_cfg, "train", 1, cfg.image_size)
    test, _, _ = load_split(data_cfg, "test", 1, cfg.image_size)
    if cfg.max_train is not None:
        train = train[: cfg.max_train]
    train_levels = reduce_bits(torch.from_numpy(train), cfg.n_bits)
    test_levels = reduce_bits(torch.from_numpy(test[: cfg.n_test]), cfg.n_bits)
    noise = torch.Generator().manual_seed(cfg.seed + 1)
    return train_levels, dequantize(test_levels, cfg.n_bits, generator=noise)


@torch.no_grad()
def _test_bpd(model: Glow, test_x: Tensor, batch_size: int = 250) -> float:
    model.eval()
    total = 0.0
    for start in range(0, test_x.shape[0], batch_size):
        total += float(model.bits_per_dim(test_x[start : start + batch_size]).double().sum())
    model.train()
    return total / test_x.shape[0]


def _batch(run: _Run, train_levels: Tensor, cfg: AblationConfig) -> Tensor:
    index = torch.randint(train_levels.shape[0], (cfg.batch_size,), generator=run.generator)
    return dequantize(train_levels[index], cfg.n_bits, generator=run.generator)


def _build(coupling: str, permutation: str, cfg: AblationConfig, init_x: Tensor) -> _Run:
    torch.manual_seed(cfg.seed)
    model = Glow(
        in_channels=1,
        n_levels=cfg.n_levels,
        n_steps=cfg.n_steps,
        hidden_channels=cfg.hidden_channels,
        coupling=coupling,
        permutation=permutation,
        lu=cfg.lu,
        learn_top=True,
        image_size=cfg.image_size,
        n_bits=cfg.n_bits,
    )
    model.initialize(init_x)
    optimizer = torch.optim.Adamax(model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed + 2)
    name = f"{coupling}+{permutation}"
    return _Run(name, coupling, permutation, model, optimizer, generator)


def _train_slice(run: _Run, cfg: AblationConfig, train_levels: Tensor, test_x: Tensor) -> None:
    """Train ``run`` for one slice of its clock, evaluating at every ``eval_every_s`` mark."""
    clock = _clock(cfg.clock)
    slice_end = min(run.used_s + cfg.slice_s, cfg.budget_s)
    while not run.diverged and run.used_s < slice_end:
        if run.used_s >= run.next_eval_s:
            run.curve.append(
                {"time_s": run.used_s, "steps": run.steps, "test_bpd": _test_bpd(run.model, test_x)}
            )
            run.next_eval_s += cfg.eval_every_s
        x = _batch(run, train_levels, cfg)
        for group in run.optimizer.param_groups:
            group["lr"] = cfg.lr * min(1.0, (run.steps + 1) / cfg.warmup_steps)
        start = clock()
        loss = run.model.bits_per_dim(x).mean()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), 50.0)
        run.optimizer.step()
        run.used_s += clock() - start
        run.steps += 1
        run.diverged = not math.isfinite(float(loss.detach()))


def run_ablation(
    cfg: AblationConfig,
    progress: Callable[[str], None] | None = None,
    snapshot: Callable[[dict[str, object]], None] | None = None,
) -> dict[str, object]:
    """Train every coupling x permutation config for ``cfg.budget_s`` seconds, interleaved.

    Returns ``{"config": asdict(cfg), "complete": bool, "budget_reached_s", "runs": [{"name",
    "coupling", "permutation", "steps", "train_s", "diverged", "final_test_bpd", "parameters",
    "curve": [{"time_s", "steps", "test_bpd"}]}]}``; each curve starts at time 0 (after
    ActNorm initialisation) and ends at the budget. ``snapshot`` (if given) receives the
    partial result (``complete`` false) after every round, so an interrupted run still leaves
    an equal-budget comparison up to ``budget_reached_s``.
    """
    torch.set_num_threads(cfg.threads)
    train_levels, test_x = _load(cfg)
    init_gen = torch.Generator().manual_seed(cfg.seed + 3)
    n_init = min(256, train_levels.shape[0])
    init_index = torch.randint(train_levels.shape[0], (n_init,), generator=init_gen)
    init_x = dequantize(train_levels[init_index], cfg.n_bits, generator=init_gen)
    runs = [_build(c, p, cfg, init_x) for c in cfg.couplings for p in cfg.permutations]
    while any(r.used_s < cfg.budget_s and not r.diverged for r in runs):
        for run in runs:
            if run.used_s < cfg.budget_s and not run.diverged:
                _train_slice(run, cfg, train_levels, test_x)
                if progress is not None:
                    progress(
                        f"{run.name:18s} {run.used_s:8.1f}/{cfg.budget_s:g} s  "
                        f"{run.steps:6d} steps  last test bpd {run.curve[-1]['test_bpd']:.4f}"
                    )
        if snapshot is not None:
            snapshot(_result(cfg, runs, complete=False))
    for run in runs:
        if not run.diverged:
            final = _test_bpd(run.model, test_x)
            run.curve.append({"time_s": run.used_s, "steps": run.steps, "test_bpd": final})
    return _result(cfg, runs, complete=True)


def _result(cfg: AblationConfig, runs: list[_Run], complete: bool) -> dict[str, object]:
    rows = []
    for run in runs:
        final = None if run.diverged or not complete else run.curve[-1]["test_bpd"]
        rows.append(
            {
                "name": run.name,
                "coupling": run.coupling,
                "permutation": run.permutation,
                "steps": run.steps,
                "train_s": run.used_s,
                "diverged": run.diverged,
                "final_test_bpd": final,
                "parameters": sum(p.numel() for p in run.model.parameters()),
                "curve": list(run.curve),
            }
        )
    reached = (
        min(r.used_s for r in runs if not r.diverged)
        if complete
        else min(r.curve[-1]["time_s"] for r in runs)
    )
    return {
        "config": dataclasses.asdict(cfg),
        "complete": complete,
        "budget_reached_s": reached,
        "runs": rows,
    }
