"""Console and TensorBoard reporting for the training loop (rank 0 only).

`Monitor` owns the tqdm progress bar and the SummaryWriter in `exp_dir/tb`. On ranks other
than 0 every method is a no-op. `MeanMeter` averages scalar metrics between two log lines.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm


class MeanMeter:
    """Running means of named scalars, each weighted (e.g. by batch size)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weights: dict[str, float] = {}

    def add(self, values: dict[str, float], weight: float = 1.0) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * weight
            self.weights[name] = self.weights.get(name, 0.0) + weight

    def means(self) -> dict[str, float]:
        return {name: self.sums[name] / self.weights[name] for name in self.sums}

    def reset(self) -> None:
        self.sums.clear()
        self.weights.clear()


class Monitor:
    """Progress bar, console lines and TensorBoard scalars for one training run."""

    def __init__(self, exp_dir: Path, total_steps: int, first_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.writer: Any = None
        self.bar: Any = None
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(exp_dir / "tb"))
        self.bar = tqdm(
            total=total_steps,
            initial=first_step,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            disable=not sys.stderr.isatty(),
        )

    def print(self, line: str) -> None:
        """A console line that does not break the progress bar."""
        if self.enabled:
            tqdm.write(line)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        """Log `values` to TensorBoard as `prefix/name`."""
        if self.enabled:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def advance(self, postfix: dict[str, float]) -> None:
        """Move the progress bar one step and show `postfix`."""
        if self.enabled:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self.bar.update(1)

    def flush(self) -> None:
        if self.enabled:
            self.writer.flush()

    def close(self) -> None:
        if self.enabled:
            self.bar.close()
            self.writer.close()


def format_metrics(values: dict[str, float]) -> str:
    """`name value` pairs for a console line, 4 significant digits."""
    return " ".join(f"{name} {value:.4g}" for name, value in values.items())
