"""Perceptual and intelligibility scores: wide-band PESQ and (extended) STOI.

Inputs are float64 waveforms [T] of equal length (see `waveform.trim_to_shorter`). Both need
packages of the `eval` extra (`pesq`, `pystoi`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

from waveflow.audio.metrics.optional import import_optional
from waveflow.errors import WaveflowError

PESQ_SAMPLE_RATE = 16000


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling of [T] from `from_rate` to `to_rate` Hz."""
    if from_rate == to_rate:
        return audio
    common = math.gcd(from_rate, to_rate)
    return resample_poly(audio, to_rate // common, from_rate // common)


def pesq_wideband(ref: np.ndarray, gen: np.ndarray, sample_rate: int) -> float:
    """ITU-T P.862.2 wide-band PESQ (MOS-LQO, about 1.04 to 4.64; higher is better).

    Both signals are resampled to 16 kHz first; the rate must be at least 16 kHz.
    """
    pesq = import_optional("pesq", purpose="PESQ")
    if sample_rate < PESQ_SAMPLE_RATE:
        raise WaveflowError(
            f"wide-band PESQ needs a sample rate of at least {PESQ_SAMPLE_RATE} Hz, "
            f"got {sample_rate} Hz"
        )
    ref16 = resample(ref, sample_rate, PESQ_SAMPLE_RATE)
    gen16 = resample(gen, sample_rate, PESQ_SAMPLE_RATE)
    try:
        return float(pesq.pesq(PESQ_SAMPLE_RATE, ref16, gen16, "wb"))
    except pesq.PesqError as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise WaveflowError(f"PESQ failed: {type(err).__name__}: {detail}") from err


def stoi_scores(ref: np.ndarray, gen: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(STOI, ESTOI): short-time objective intelligibility, classic and extended.

    Both lie in about [0, 1] for STOI and [-1, 1] for ESTOI; 1 means identical envelopes,
    higher is better. `pystoi` resamples to 10 kHz and drops silent frames internally.
    """
    pystoi = import_optional("pystoi", purpose="STOI")
    stoi = float(pystoi.stoi(ref, gen, sample_rate, extended=False))
    estoi = float(pystoi.stoi(ref, gen, sample_rate, extended=True))
    return stoi, estoi
