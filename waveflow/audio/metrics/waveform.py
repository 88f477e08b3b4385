"""Conversion and validation of the waveforms that the metrics compare."""

from __future__ import annotations

import numpy as np
import torch

from waveflow.errors import WaveflowError


def as_waveform(audio: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    """Return `audio` (numpy or torch, 1-D [T]) as a float64 numpy array [T].

    Raises `WaveflowError` naming `name` if the input is not 1-D, is empty or holds NaN/inf.
    """
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().double().numpy()
    array = np.asarray(audio)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise WaveflowError(f"{name} audio must be a real-valued array, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim != 1:
        raise WaveflowError(f"{name} audio must be 1-D [T], got shape {tuple(array.shape)}")
    if array.size == 0:
        raise WaveflowError(f"{name} audio is empty")
    if not np.isfinite(array).all():
        raise WaveflowError(f"{name} audio contains NaN or infinite samples")
    return array


def check_sample_rate(sample_rate: int) -> int:
    """Return `sample_rate` if it is a positive integer number of Hz, else raise."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise WaveflowError(f"sample rate must be an integer in Hz, got {sample_rate!r}")
    if sample_rate <= 0:
        raise WaveflowError(f"sample rate must be positive, got {sample_rate}")
    return int(sample_rate)


def trim_to_shorter(ref: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut both waveforms to the length of the shorter one (samples at the end are dropped).

    Vocoder output usually differs from the reference by less than one hop at the end, so
    trimming the tail aligns the two without shifting them.
    """
    length = min(ref.size, gen.size)
    return ref[:length], gen[:length]
