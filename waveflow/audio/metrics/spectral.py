"""Spectral distances: log-mel L1 on the WaveGlow front end and multi-resolution STFT distance.

Inputs are float64 waveforms [T] of equal length (see `waveform.trim_to_shorter`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from waveflow.audio.features import MelConfig, MelSpectrogram
from waveflow.errors import WaveflowError


@dataclass(frozen=True)
class StftResolution:
    """One STFT analysis: FFT size, hop and Hann window length, in samples."""

    n_fft: int
    hop_length: int
    win_length: int


#: The three resolutions of the multi-resolution STFT loss of Parallel WaveGAN.
PARALLEL_WAVEGAN_RESOLUTIONS: tuple[StftResolution, ...] = (
    StftResolution(n_fft=512, hop_length=50, win_length=240),
    StftResolution(n_fft=1024, hop_length=120, win_length=600),
    StftResolution(n_fft=2048, hop_length=240, win_length=1200),
)

#: Magnitudes are clamped to this value before the logarithm of the log-magnitude distance.
MAGNITUDE_FLOOR = 1e-7


@functools.lru_cache(maxsize=4)
def _mel_front_end(sample_rate: int) -> MelSpectrogram:
    fmax = min(MelConfig().fmax or sample_rate / 2, sample_rate / 2)
    return MelSpectrogram(MelConfig(sample_rate=sample_rate, fmax=fmax))


def log_mel_l1(ref: np.ndarray, gen: np.ndarray, sample_rate: int) -> float:
    """Mean absolute difference of natural-log mel spectrograms (WaveGlow front end).

    `MelSpectrogram` with the `MelConfig` defaults at `sample_rate` (fmax capped at Nyquist);
    the mean runs over all mel bins and frames. Unit: nats of mel magnitude (0 = identical).
    """
    front_end = _mel_front_end(sample_rate)
    with torch.no_grad():
        mel_ref = front_end(torch.from_numpy(ref))
        mel_gen = front_end(torch.from_numpy(gen))
    return float((mel_ref - mel_gen).abs().mean())


def _stft_magnitude(audio: torch.Tensor, resolution: StftResolution) -> torch.Tensor:
    """Magnitude STFT [n_fft // 2 + 1, frames], centred frames, reflect padding."""
    window = torch.hann_window(resolution.win_length, dtype=audio.dtype)
    spectrum = torch.stft(
        audio,
        n_fft=resolution.n_fft,
        hop_length=resolution.hop_length,
        win_length=resolution.win_length,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return spectrum.abs().clamp(min=MAGNITUDE_FLOOR)


def multi_resolution_stft_distance(
    ref: np.ndarray,
    gen: np.ndarray,
    resolutions: tuple[StftResolution, ...] = PARALLEL_WAVEGAN_RESOLUTIONS,
) -> tuple[float, float]:
    """(spectral convergence, log-magnitude L1), each averaged over `resolutions`.

    Per resolution, with magnitudes |S| clamped to `MAGNITUDE_FLOOR`:
    spectral convergence = ||S_ref| - |S_gen||_F / ||S_ref||_F (dimensionless, 0 = identical);
    log-magnitude L1 = mean |log|S_ref| - log|S_gen|| (nats, 0 = identical).
    """
    longest = max(resolution.n_fft for resolution in resolutions)
    if ref.size <= longest // 2:
        raise WaveflowError(
            f"multi-resolution STFT needs more than {longest // 2} samples, got {ref.size}"
        )
    ref_t, gen_t = torch.from_numpy(ref), torch.from_numpy(gen)
    convergence, log_l1 = [], []
    for resolution in resolutions:
        mag_ref = _stft_magnitude(ref_t, resolution)
        mag_gen = _stft_magnitude(gen_t, resolution)
        convergence.append(float(torch.linalg.norm(mag_ref - mag_gen) / torch.linalg.norm(mag_ref)))
        log_l1.append(float((mag_ref.log() - mag_gen.log()).abs().mean()))
    return float(np.mean(convergence)), float(np.mean(log_l1))
