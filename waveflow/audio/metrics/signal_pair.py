"""`SignalPair`: the two waveforms every metric of `evaluate_pair` is computed on."""

from __future__ import annotations

import functools

import numpy as np

from waveflow.audio.metrics.waveform import trim_to_shorter
from waveflow.audio.metrics.world import WorldAnalysis, world_analysis


class SignalPair:
    """Reference and generated float64 waveforms [T] trimmed to equal length, at one rate.

    WORLD analyses are computed on first use and shared by the metrics that need them.
    """

    def __init__(self, ref: np.ndarray, gen: np.ndarray, sample_rate: int, dtw: bool) -> None:
        self.ref, self.gen = trim_to_shorter(ref, gen)
        self.sample_rate = sample_rate
        self.dtw = dtw

    @functools.cached_property
    def world_ref(self) -> WorldAnalysis:
        return world_analysis(self.ref, self.sample_rate)

    @functools.cached_property
    def world_gen(self) -> WorldAnalysis:
        return world_analysis(self.gen, self.sample_rate)
