"""WORLD-based metrics: mel-cepstral distortion (MCD) and F0 / voicing errors.

Analysis per signal: F0 by WORLD DIO refined by StoneMask (71-800 Hz, 5 ms frames), spectral
envelope by CheapTrick with that F0, converted to a mel-cepstrum c0..c24 by pysptk `sp2mc` with the
frequency-warping constant `pysptk.util.mcepalpha(sample_rate)` (0.455 at 22.05 kHz). Needs
packages of the `eval` extra (`pyworld`, `pysptk`).

DIO is used rather than Harvest because Harvest extends voicing into near-silent frames with
arbitrary F0 values, which makes F0 errors jump erratically as soon as a little noise is added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from waveflow.audio.metrics.optional import import_optional

FRAME_PERIOD_MS = 5.0
F0_FLOOR_HZ = 71.0
F0_CEIL_HZ = 800.0
MCEP_ORDER = 24

#: MCD [dB] = MCD_CONSTANT * sqrt(sum_{d=1..24} (c_d - c'_d)^2), i.e. (10 / ln 10) * sqrt(2).
MCD_CONSTANT = 10.0 / math.log(10.0) * math.sqrt(2.0)


@dataclass(frozen=True)
class WorldAnalysis:
    """Frame-wise WORLD features of one waveform, one row per 5 ms frame.

    f0: [N] fundamental frequency in Hz, 0 where unvoiced.
    mcep: [N, MCEP_ORDER + 1] mel-cepstrum c0..c24 of the spectral envelope.
    """

    f0: np.ndarray
    mcep: np.ndarray


def world_analysis(audio: np.ndarray, sample_rate: int) -> WorldAnalysis:
    """DIO + StoneMask F0 and CheapTrick mel-cepstrum of a float64 waveform [T]."""
    pyworld = import_optional("pyworld", purpose="WORLD analysis (MCD, F0)")
    pysptk = import_optional("pysptk", purpose="WORLD analysis (MCD, F0)")
    audio = np.ascontiguousarray(audio, dtype=np.float64)
    coarse_f0, times = pyworld.dio(
        audio, sample_rate, f0_floor=F0_FLOOR_HZ, f0_ceil=F0_CEIL_HZ, frame_period=FRAME_PERIOD_MS
    )
    f0 = pyworld.stonemask(audio, coarse_f0, times, sample_rate)
    envelope = pyworld.cheaptrick(audio, f0, times, sample_rate, f0_floor=F0_FLOOR_HZ)
    alpha = pysptk.util.mcepalpha(sample_rate)
    mcep = pysptk.sp2mc(envelope, order=MCEP_ORDER, alpha=alpha)
    return WorldAnalysis(f0=f0, mcep=mcep)


def _dtw_path(ref: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices (ref_idx, gen_idx) of the Euclidean DTW path between [N, D] and [M, D]."""
    import librosa

    _, path = librosa.sequence.dtw(X=ref.T, Y=gen.T, metric="euclidean")
    path = path[::-1]
    return path[:, 0], path[:, 1]


def mel_cepstral_distortion(ref: WorldAnalysis, gen: WorldAnalysis, *, dtw: bool = False) -> float:
    """Mean MCD in dB over frames, excluding the energy term c0.

    Frame i of `ref` is compared with frame i of `gen` (equal-length signals give equal frame
    counts; any excess is dropped), or frames are paired along a DTW path of the c1..c24
    vectors when `dtw=True`. All frames count, silent ones included.
    """
    ref_c, gen_c = ref.mcep[:, 1:], gen.mcep[:, 1:]
    if dtw:
        ref_idx, gen_idx = _dtw_path(ref_c, gen_c)
        ref_c, gen_c = ref_c[ref_idx], gen_c[gen_idx]
    else:
        frames = min(len(ref_c), len(gen_c))
        ref_c, gen_c = ref_c[:frames], gen_c[:frames]
    distances = np.sqrt(((ref_c - gen_c) ** 2).sum(axis=1))
    return float(MCD_CONSTANT * distances.mean())


def f0_errors(ref: WorldAnalysis, gen: WorldAnalysis) -> tuple[float, float]:
    """(F0 RMSE in cents over frames voiced in both, voiced/unvoiced decision error rate).

    cents = 1200 * log2(f0_gen / f0_ref). The RMSE is NaN when no frame is voiced in both.
    The V/UV error is the fraction of frames whose voicing decisions differ (0 to 1).
    """
    frames = min(len(ref.f0), len(gen.f0))
    f0_ref, f0_gen = ref.f0[:frames], gen.f0[:frames]
    voiced_ref, voiced_gen = f0_ref > 0, f0_gen > 0
    both = voiced_ref & voiced_gen
    if both.any():
        cents = 1200.0 * np.log2(f0_gen[both] / f0_ref[both])
        rmse = float(np.sqrt(np.mean(cents**2)))
    else:
        rmse = math.nan
    vuv_error = float(np.mean(voiced_ref != voiced_gen))
    return rmse, vuv_error
