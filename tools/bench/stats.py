"""Timing: run a callable with warm-up, collect wall-clock seconds, summarise robustly."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_runs(
    fn: Callable[[], object], runs: int, warmup: int, sync: Callable[[], None]
) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times; seconds per timed call.

    ``sync`` is called before starting and before stopping each clock (``torch.cuda.synchronize``
    on a GPU, a no-op on the CPU) so that asynchronous kernels are inside the measured interval.
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs} warmup={warmup}")
    for _ in range(warmup):
        fn()
    sync()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        seconds.append(time.perf_counter() - start)
    return seconds


def summarize(seconds: list[float]) -> dict[str, float | int]:
    """``{"median_s", "min_s", "max_s", "q1_s", "q3_s", "runs"}`` of per-run seconds.

    The quartiles use the inclusive method (with 2 runs they are interpolated between them).
    """
    if not seconds:
        raise ValueError("summarize: no timed runs")
    if len(seconds) == 1:
        q1 = q3 = seconds[0]
    else:
        q1, _, q3 = statistics.quantiles(seconds, n=4, method="inclusive")
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "q1_s": q1,
        "q3_s": q3,
        "runs": len(seconds),
    }
