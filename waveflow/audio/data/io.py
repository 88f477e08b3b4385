"""Audio file I/O with clear errors: mono float32 loading and atomic 16-bit WAV writing.

Conventions: audio is a 1-D float32 tensor [T] of samples in [-1, 1]; sample rates are in Hz.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import soundfile
import torch

from waveflow.atomic import atomic_write
from waveflow.errors import WaveflowError
from waveflow.inputs import describe_non_regular

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")

#: Largest resampling filter bank (values) `load_audio` builds: torchaudio's exact rational
#: resampler needs (to / g) x (from / g + 2 width) values for rates from -> to, g = gcd(from, to),
#: which is gigabytes for a header claiming 2,000,000,000 Hz or for rates such as 44101 Hz.
MAX_RESAMPLE_KERNEL = 2**25


class ClippedAudioWarning(UserWarning):
    """A float audio file held samples outside [-1, 1]; they were clipped."""


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
    files containing NaN/inf raise `WaveflowError` naming the file and the problem; so do
    FIFOs, devices and folders (never opened). Samples outside [-1, 1] (float files) are
    clipped with a `ClippedAudioWarning`.
    """
    problem = describe_non_regular(path)
    if problem is not None:
        raise WaveflowError(f"cannot read audio file {path}: {problem}")
    try:
        data, file_rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as err:
        raise WaveflowError(f"cannot read audio file {path}: {_read_problem(err)}") from err
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
        check_resample(path, file_rate, sample_rate)
        import torchaudio.functional

        audio = torchaudio.functional.resample(audio, file_rate, sample_rate)
    peak = float(audio.abs().max())
    if peak > 1.0:
        outside = int((audio.abs() > 1.0).sum())
        warnings.warn(
            f"audio file {path}: {outside} sample(s) outside [-1, 1] (peak {peak:.3g}) were "
            "clipped",
            ClippedAudioWarning,
            stacklevel=2,
        )
    return audio.clamp(-1.0, 1.0).contiguous()


def check_resample(path: str | os.PathLike[str], from_rate: int, to_rate: int) -> None:
    """Refuse a resampling whose filter bank would exceed `MAX_RESAMPLE_KERNEL` values."""
    g = math.gcd(from_rate, to_rate)
    width = math.ceil(6 * from_rate / min(from_rate, to_rate))  # torchaudio's default width
    values = (to_rate // g) * (from_rate // g + 2 * width)
    if values > MAX_RESAMPLE_KERNEL:
        raise WaveflowError(
            f"audio file {path}: cannot resample from {from_rate} Hz to {to_rate} Hz (the exact "
            f"resampling filter would need {values * 4 / 2**30:.1f} GiB); convert it to "
            f"{to_rate} Hz with another tool first"
        )


def _read_problem(err: BaseException) -> str:
    """libsndfile's reason, in words that fit the case (it says "possibly a pipe?" a lot)."""
    detail = " ".join(str(err).split()) or type(err).__name__
    if "Format not recognised" in detail or "possibly a pipe" in detail:
        return "not a recognised audio format (use WAV, FLAC or OGG)"
    return detail


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
    # Encoded in memory, then written with Python's file I/O: a full disk is reported with its
    # errno (libsndfile would only say "System error").
    encoded = io.BytesIO()
    soundfile.write(encoded, np.clip(samples, -1.0, 1.0), sample_rate, "PCM_16", format="WAV")
    atomic_write(path, lambda f: f.write(encoded.getbuffer()))


def collect_files(
    inputs: list[Path], suffixes: tuple[str, ...] = AUDIO_SUFFIXES
) -> tuple[list[Path], list[str]]:
    """Expand files and folders (their ``suffixes`` files, sorted, not recursive) into files.

    Returns ``(files, errors)``: one message per input that is missing, not a regular file
    (FIFO, device: these are never opened) or a folder that yields nothing.
    """
    files, errors = [], []
    for entry in map(Path, inputs):
        if entry.is_dir():
            found = sorted(p for p in entry.iterdir() if p.suffix.lower() in suffixes)
            for path in found:
                problem = describe_non_regular(path)
                if problem is None:
                    files.append(path)
                elif not path.is_dir():
                    errors.append(f"{path}: {problem}")
            if not found:
                errors.append(f"{entry}: folder contains no {' or '.join(suffixes)} files")
            continue
        problem = describe_non_regular(entry)
        if problem is None:
            files.append(entry)
        else:
            errors.append(f"{entry}: {problem if entry.exists() else 'no such file or folder'}")
    return files, errors
