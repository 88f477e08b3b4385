"""Objective vocoder metrics: reference vs generated waveform, one number per metric.

`evaluate_pair` compares two waveforms, `evaluate_dirs` two directories of same-named files.
Metrics (selected by name): mel (log-mel L1), mrstft (multi-resolution STFT spectral
convergence and log-magnitude L1), pesq (wide-band PESQ), stoi (STOI and ESTOI), mcd
(mel-cepstral distortion, dB), f0 (F0 RMSE in cents, voiced/unvoiced error). pesq, stoi, mcd
and f0 need the `eval` extra; a missing package skips its metric with a warning.
"""

from __future__ import annotations

from waveflow.audio.metrics.dirs import FilePairing, evaluate_dirs, pair_files, summarize
from waveflow.audio.metrics.pair import evaluate_pair
from waveflow.audio.metrics.problems import (
    EvaluationWarning,
    FileFailedWarning,
    MetricSkippedWarning,
    UnmatchedFileWarning,
)
from waveflow.audio.metrics.registry import HIGHER_IS_BETTER, METRIC_NAMES, METRICS

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "METRIC_NAMES",
    "EvaluationWarning",
    "FileFailedWarning",
    "FilePairing",
    "MetricSkippedWarning",
    "UnmatchedFileWarning",
    "evaluate_dirs",
    "evaluate_pair",
    "pair_files",
    "summarize",
]
