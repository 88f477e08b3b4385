"""Batch synthesis shared by ``waveflow synthesize`` and ``waveflow copy-synthesis``.

Vocoders come from :func:`waveflow.audio.formats.vocoder_file.load_vocoder` (a native or NVIDIA
file) or :func:`waveflow.audio.formats.pretrained.load_default` (the shipped default).

* :func:`read_mel`: a ``.npy``/``.pt`` file holding ``[n_mels, F]`` (Tacotron2 layout) or
  ``[1, n_mels, F]`` -> float32 ``[n_mels, F]``, with one-line errors.
* :func:`synthesize_to_files`: batches of mels -> 16-bit WAVs of ``F * hop_length`` samples
  (or a given length), written atomically, with a progress bar and a speed summary ("x real time").
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from waveflow.audio.data.features import check_log_mel
from waveflow.audio.formats.vocoder_file import Vocoder
from waveflow.audio.models.waveflow_model import WaveFlow
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.errors import WaveflowError
from waveflow.reporting import is_out_of_memory

MEL_SUFFIXES = (".npy", ".pt")


def read_mel(path: Path, n_mel_channels: int) -> Tensor:
    """Read a mel file as float32 ``[n_mels, F]``; raises a WaveflowError naming the problem."""
    from waveflow.checkpoint import describe_load_error
    from waveflow.inputs import describe_non_regular

    problem = describe_non_regular(path)
    if problem is not None:
        raise WaveflowError(f"{path}: cannot read mel file ({problem})")
    try:
        if path.suffix.lower() == ".pt":
            data = torch.load(path, map_location="cpu", weights_only=True)
        else:
            data = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy/torch raise many types for unreadable files
        detail = describe_load_error(err, limit=160)
        raise WaveflowError(f"{path}: cannot read mel file ({detail})") from err
    if isinstance(data, np.ndarray):
        if not np.issubdtype(data.dtype, np.floating):
            raise WaveflowError(f"{path}: mel must hold floating-point values, got {data.dtype}")
        data = torch.from_numpy(data)
    if not isinstance(data, Tensor) or not data.is_floating_point():
        raise WaveflowError(
            f"{path}: expected a floating-point mel array, got {type(data).__name__}"
        )
    if data.dim() == 3 and data.shape[0] == 1:
        data = data[0]
    if data.dim() != 2:
        raise WaveflowError(
            f"{path}: mel must have shape [n_mels, frames] or [1, n_mels, frames], "
            f"got {list(data.shape)}"
        )
    if data.shape[0] != n_mel_channels:
        raise WaveflowError(
            f"{path}: mel has {data.shape[0]} channels, the model expects {n_mel_channels} "
            f"(shape {list(data.shape)}; Tacotron2 layout is [n_mels, frames])"
        )
    if data.shape[1] == 0:
        raise WaveflowError(f"{path}: mel has zero frames")
    if not torch.isfinite(data).all():
        raise WaveflowError(f"{path}: mel contains NaN or infinite values")
    return data.float().contiguous()


def log_mel_warning(mel: Tensor, name: str) -> str | None:
    """The warning text if ``mel`` does not look like a natural-log mel, else None."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_log_mel(mel, name=name)
    return str(caught[0].message) if caught else None


@dataclass
class SynthesisJob:
    """One output: ``mel [n_mels, F]`` -> ``out`` with ``length`` samples (default F * hop)."""

    name: str
    mel: Tensor
    out: Path
    length: int | None = None


@dataclass
class SynthesisSettings:
    sigma: float = 0.6
    denoise: float = 0.0
    dtype: torch.dtype = torch.float32
    batch_size: int = 1
    seed: int = 0
    chunk_samples: int | None = None


def synthesize_to_files(
    model: Vocoder,
    jobs: list[SynthesisJob],
    sample_rate: int,
    settings: SynthesisSettings,
    command: str,
) -> int:
    """Synthesise every job to its WAV (atomic writes); prints a summary; returns #failures.

    Mels of one batch are padded to the longest with the log floor (silence) and each output
    is trimmed to its own length, so results do not depend on the padding beyond the model's
    receptive field at the end of the shorter clips.
    """
    from tqdm import tqdm

    from waveflow.audio.data.io import save_wav
    from waveflow.audio.models.denoiser import Denoiser

    if settings.batch_size < 1:
        raise WaveflowError(f"--batch-size must be >= 1, got {settings.batch_size}")
    device = next(model.parameters()).device
    hop = model.config.hop_length
    denoiser = Denoiser(model) if settings.denoise > 0 else None
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    failed, audio_seconds, start = 0, 0.0, time.perf_counter()
    progress = tqdm(total=len(jobs), desc=command, unit="file", file=sys.stderr)
    for first in range(0, len(jobs), settings.batch_size):
        batch = jobs[first : first + settings.batch_size]
        frames = max(job.mel.shape[1] for job in batch)
        shape = (len(batch), batch[0].mel.shape[0], frames)
        mels = torch.full(shape, math.log(1e-5), device=device)
        for i, job in enumerate(batch):
            mels[i, :, : job.mel.shape[1]] = job.mel
        audio = _infer_batch(model, mels, generator, settings)
        for i, job in enumerate(batch):
            length = job.length or job.mel.shape[1] * hop
            clip = audio[i, :length]
            if denoiser is not None:
                clip = denoiser(clip, strength=settings.denoise)
            try:
                save_wav(job.out, clip.cpu(), sample_rate)
            except (WaveflowError, OSError) as err:
                tqdm.write(f"waveflow {command}: error: {job.name}: {err}", file=sys.stderr)
                failed += 1
                continue
            audio_seconds += length / sample_rate
        progress.update(len(batch))
    progress.close()
    wall = time.perf_counter() - start
    speed = audio_seconds / wall if wall > 0 else float("inf")
    print(
        f"waveflow {command}: wrote {len(jobs) - failed} file(s): {audio_seconds:.2f} s of audio "
        f"in {wall:.2f} s ({speed:.1f}x real time)",
        file=sys.stderr,
    )
    return failed


def synthesis_chunk(model: Vocoder, chunk_samples: int | None) -> int | None:
    """The chunk size of ``--chunk-samples`` for ``model`` (checked; None: the default).

    WaveGlow synthesises long mels in exact chunks (:mod:`waveflow.audio.models.chunked`); an
    IAF student or a WaveFlow is synthesised whole, so asking it for chunks is a one-line
    WaveflowError naming the model.
    """
    from waveflow.audio.models.chunked import chunk_size

    if isinstance(model, WaveGlow):
        return chunk_size(model, chunk_samples)
    if chunk_samples is not None:
        kind = "a WaveFlow (task: waveflow)" if isinstance(model, WaveFlow) else (
            "an IAF student (task: distill)"
        )
        raise WaveflowError(
            f"--chunk-samples: {kind} is synthesised whole; chunked synthesis is for WaveGlow "
            "checkpoints"
        )
    return None


def _infer_batch(
    model: Vocoder, mels: Tensor, generator: torch.Generator, settings: SynthesisSettings
) -> Tensor:
    """``model.infer`` of one padded batch in chunks; running out of memory (which chunking
    bounds per chunk, but not the batch's mels and audio) is a one-line WaveflowError."""
    chunking = {} if settings.chunk_samples is None else {"chunk_samples": settings.chunk_samples}
    try:
        return model.infer(
            mels, sigma=settings.sigma, generator=generator, dtype=settings.dtype, **chunking
        ).float()
    except (RuntimeError, MemoryError) as err:
        if not is_out_of_memory(err):
            raise
        batch, _, frames = mels.shape
        audio_gib = batch * frames * model.config.hop_length * 4 / 2**30
        raise WaveflowError(
            f"out of memory synthesising a batch of {batch} mel(s) of up to {frames} frames "
            f"({audio_gib:.2f} GiB of audio); lower --batch-size or --chunk-samples"
        ) from None
