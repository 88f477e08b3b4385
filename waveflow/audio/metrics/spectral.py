"""Spectral distances: log-mel L1 on the WaveGlow front end and multi-resolution STFT distance.

Inputs are float64 waveforms [T] of equal length (see `waveform.trim_to_shorter`). Both are
computed in blocks of at most `BLOCK_FRAMES` frames (`frame_blocks`), so their memory does not
grow with the length of the audio beyond the waveforms themselves; the result equals the
whole-signal computation (the same centred, reflect-padded frames).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from waveflow.audio.data.features import MelConfig, MelSpectrogram
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

#: Frames per block of the spectral metrics (a block of 2048-point STFTs is about 17 MB).
BLOCK_FRAMES = 1024


def frame_blocks(
    n_samples: int, n_fft: int, hop: int, block_frames: int | None = None
) -> Iterator[tuple[slice, slice]]:
    """Split the centred frames of a signal of `n_samples` into blocks.

    Yields ``(samples, frames)``: the frames of a centred, reflect-padded STFT (`center=True`)
    of ``audio[samples]`` selected by ``frames`` are exactly the next frames (at most
    `block_frames`, default `BLOCK_FRAMES`) of the STFT of the whole signal: the slice
    reaches ``n_fft // 2`` past them (plus one hop), so padding only touches frames that are
    dropped, except at the ends of the signal, where it is the same padding as for the whole
    signal.
    """
    block_frames = block_frames or BLOCK_FRAMES
    total = n_samples // hop + 1
    margin = (n_fft // 2) // hop + 1
    for first in range(0, total, block_frames):
        last = min(first + block_frames, total)
        start = max(0, (first - margin) * hop)
        stop = min(n_samples, (last - 1 + margin) * hop + 1)
        offset = first - start // hop
        yield slice(start, stop), slice(offset, offset + last - first)


@functools.lru_cache(maxsize=4)
def metrics_front_end(sample_rate: int) -> MelSpectrogram:
    """The log-mel front end of the metrics and their plots: `MelConfig` defaults at
    `sample_rate` (fmax capped at Nyquist)."""
    fmax = min(MelConfig().fmax or sample_rate / 2, sample_rate / 2)
    return MelSpectrogram(MelConfig(sample_rate=sample_rate, fmax=fmax))


def log_mel_l1(ref: np.ndarray, gen: np.ndarray, sample_rate: int) -> float:
    """Mean absolute difference of natural-log mel spectrograms (WaveGlow front end).

    `MelSpectrogram` with the `MelConfig` defaults at `sample_rate` (fmax capped at Nyquist);
    the mean runs over all mel bins and frames. Unit: nats of mel magnitude (0 = identical).
    """
    front_end = metrics_front_end(sample_rate)
    c = front_end.config
    ref_t, gen_t = torch.from_numpy(ref), torch.from_numpy(gen)
    total, count = 0.0, 0
    with torch.no_grad():
        for samples, frames in frame_blocks(ref.size, c.n_fft, c.hop_length):
            mel_ref = front_end(ref_t[samples])[:, frames]
            mel_gen = front_end(gen_t[samples])[:, frames]
            total += float((mel_ref - mel_gen).abs().double().sum())
            count += mel_ref.numel()
    return total / count


def stft_magnitude(audio: torch.Tensor, resolution: StftResolution) -> torch.Tensor:
    """Magnitude STFT ``[..., n_fft // 2 + 1, frames]`` of ``audio [..., T]`` (centred frames,
    reflect padding), clamped to ``MAGNITUDE_FLOOR``; differentiable."""
    window = torch.hann_window(resolution.win_length, dtype=audio.dtype, device=audio.device)
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
        diff_sq = ref_sq = log_sum = 0.0
        count = 0
        for samples, frames in frame_blocks(ref.size, resolution.n_fft, resolution.hop_length):
            mag_ref = stft_magnitude(ref_t[samples], resolution)[:, frames]
            mag_gen = stft_magnitude(gen_t[samples], resolution)[:, frames]
            diff_sq += float(((mag_ref - mag_gen) ** 2).sum())
            ref_sq += float((mag_ref**2).sum())
            log_sum += float((mag_ref.log() - mag_gen.log()).abs().sum())
            count += mag_ref.numel()
        convergence.append(float(np.sqrt(diff_sq) / np.sqrt(ref_sq)))
        log_l1.append(log_sum / count)
    return float(np.mean(convergence)), float(np.mean(log_l1))
