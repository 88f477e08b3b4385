"""`evaluate_pair`: all selected metrics for one reference / generated waveform pair."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np
import torch

from waveflow.audio.metrics.problems import MetricSkippedWarning
from waveflow.audio.metrics.registry import runnable_metrics
from waveflow.audio.metrics.signal_pair import SignalPair
from waveflow.audio.metrics.waveform import as_waveform, check_sample_rate
from waveflow.errors import WaveflowError
from waveflow.limits import LIMITS


def evaluate_pair(
    ref: np.ndarray | torch.Tensor,
    gen: np.ndarray | torch.Tensor,
    sample_rate: int,
    metrics: Iterable[str] | None = None,
    *,
    dtw: bool = False,
    skipped: dict[str, str] | None = None,
) -> dict[str, float]:
    """Compare a generated waveform with its reference; returns {result key: value}.

    ref, gen: 1-D float waveforms [T] (numpy or torch) at `sample_rate` Hz, nominally in
    [-1, 1]. If their lengths differ, both are trimmed to the shorter one (the tail of the
    longer is ignored). `metrics` selects by name (see `METRIC_NAMES`; default all).
    `dtw=True` aligns frames by dynamic time warping for MCD only.

    A metric whose optional package is missing is skipped with a `MetricSkippedWarning`
    naming the package; the others still run (if none can, `WaveflowError`). A metric that
    cannot be computed on this pair (PESQ on all-zero audio or below 16 kHz, any metric but
    mel and MR-STFT on a pair longer than `LIMITS.max_metric_seconds`) gets NaN for its keys
    and its reason in `skipped[name]` (or a `MetricSkippedWarning` if `skipped` is None); the
    other metrics are still reported. Bad input raises `WaveflowError`.
    """
    sample_rate = check_sample_rate(sample_rate)
    ref_audio, gen_audio = as_waveform(ref, "reference"), as_waveform(gen, "generated")
    pair = SignalPair(ref_audio, gen_audio, sample_rate, dtw)
    results: dict[str, float] = {}
    reasons: dict[str, str] = {}
    seconds = pair.ref.size / sample_rate
    selected = runnable_metrics(metrics)
    for metric in selected:
        try:
            if not metric.any_length and seconds > LIMITS.max_metric_seconds:
                raise WaveflowError(
                    f"the pair is {seconds:.0f} s long, more than --max-metric-seconds "
                    f"{LIMITS.max_metric_seconds}"
                )
            values = metric.compute(pair)
        except (ValueError, RuntimeError, MemoryError) as err:
            reasons[metric.name] = f"{metric.label} skipped: {' '.join(str(err).split())}"
            values = (math.nan,) * len(metric.keys)
        results.update(zip(metric.keys, values, strict=True))
    if len(reasons) == len(selected):
        raise WaveflowError("; ".join(reasons.values()))
    if skipped is not None:
        skipped.update(reasons)
    else:
        for reason in reasons.values():
            warnings.warn(reason, MetricSkippedWarning, stacklevel=2)
    return results
