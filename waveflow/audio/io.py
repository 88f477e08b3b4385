"""Audio file I/O with clear errors: mono float32 loading and atomic 16-bit WAV writing.

Conventions: audio is a 1-D float32 tensor [T] of samples in [-1, 1]; sample rates are in Hz.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile
import torch

from waveflow.atomic import atomic_path
from waveflow.errors import WaveflowError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int,
    *,
    resample: bool = False,
    downmix: bool = False,
) -> torch.Tensor:
    """Read an audio file as float32 mono [T] in [-1, 1] at `sample_rate` Hz.

    A file at another rate is an error unless `resample=True` (then it is resampled with
    torchaudio's band-limited sinc resampler). A file with several channels is an error unless
    `downmix=True` (then channels are averaged). Missing, unreadable, corrupt or empty files and
    files containing NaN/inf raise `WaveflowError` naming the file and the problem.
    """
    try:
        data, file_rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise WaveflowError(f"cannot read audio file {path}: {detail}") from err
    if data.shape[0] == 0:
        raise WaveflowError(f"audio file {path} is empty (0 samples)")
    if data.shape[1] > 1 and not downmix:
        raise WaveflowError(
            f"audio file {path} has {data.shape[1]} channels, expected mono "
            "(use downmix to average the channels)"
        )
    if not np.isfinite(data).all():
        raise WaveflowError(f"audio file {path} contains NaN or infinite samples")
    audio = torch.from_numpy(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0])
    if file_rate != sample_rate:
        if not resample:
            raise WaveflowError(
                f"audio file {path} has sample rate {file_rate} Hz, expected {sample_rate} Hz "
                "(resample it, or enable resampling)"
            )
        import torchaudio.functional

        audio = torchaudio.functional.resample(audio, file_rate, sample_rate)
    return audio.clamp(-1.0, 1.0).contiguous()


def save_wav(
    path: str | os.PathLike[str], audio: torch.Tensor | np.ndarray, sample_rate: int
) -> None:
    """Write mono audio [T] as a 16-bit PCM WAV file, clipped to [-1, 1], atomically.

    Parent directories are created. Raises `WaveflowError` for non-1-D, empty or non-finite
    audio, or a non-positive sample rate.
    """
    samples = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else audio
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise WaveflowError(
            f"cannot save {path}: audio must be a non-empty 1-D array [T], got shape "
            f"{tuple(samples.shape)}"
        )
    if not np.isfinite(samples).all():
        raise WaveflowError(f"cannot save {path}: audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise WaveflowError(f"cannot save {path}: sample rate must be positive, got {sample_rate}")
    with atomic_path(path) as tmp:
        soundfile.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, "PCM_16", format="WAV")


def collect_files(
    inputs: list[Path], suffixes: tuple[str, ...] = AUDIO_SUFFIXES
) -> tuple[list[Path], list[str]]:
    """Expand files and folders (their ``suffixes`` files, sorted, not recursive) into files.

    Returns ``(files, errors)``: one message per input that is missing or yields nothing.
    """
    files, errors = [], []
    for entry in map(Path, inputs):
        if entry.is_dir():
            found = sorted(p for p in entry.iterdir() if p.suffix.lower() in suffixes)
            if not found:
                errors.append(f"{entry}: folder contains no {' or '.join(suffixes)} files")
            files.extend(found)
        elif entry.is_file():
            files.append(entry)
        else:
            errors.append(f"{entry}: no such file or folder")
    return files, errors
