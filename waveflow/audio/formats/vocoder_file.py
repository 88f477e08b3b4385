"""Vocoder files: a native waveflow checkpoint (``task: waveglow``, ``task: waveflow``, or
``task: distill`` for an IAF student) or one of NVIDIA's WaveGlow checkpoints, told apart in
one place.

* :func:`open_vocoder_file`: the native checkpoint's dict or NVIDIA's model
  (``waveflow convert`` opens its input here);
* :func:`load_vocoder`: either, as ``(model in eval mode, the mel front end it expects)``
  (``waveflow synthesize`` and every command that loads a vocoder);
* :func:`vocoder_from_checkpoint`: the same for a native checkpoint already read.

``train.init_from`` follows the same rule through `waveflow.checkpoint.load_init_weights` and
the WaveGlow task's NVIDIA reader; the default vocoder shipped in the package is
:func:`waveflow.audio.formats.pretrained.load_default`.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from waveflow.audio.data.features import MelConfig
from waveflow.audio.formats.nvidia import load_nvidia_waveglow
from waveflow.audio.models.student import IAFStudent
from waveflow.audio.models.waveflow_model import WaveFlow
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.checkpoint import load_checkpoint, model_from_checkpoint
from waveflow.dataclass_dict import from_dict
from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file
from waveflow.task import VOCODER_TASKS

#: anything with infer(mel, sigma, generator, dtype) and .config
Vocoder = WaveGlow | WaveFlow | IAFStudent


def open_vocoder_file(
    path: str | os.PathLike[str], hop_length: int | None = None
) -> dict[str, Any] | WaveGlow:
    """A native checkpoint (the dict of `waveflow.checkpoint.load_checkpoint`) or else NVIDIA's
    WaveGlow (`load_nvidia_waveglow`, with its ``hop_length``), as a model on the CPU.

    A missing or non-regular file, and a file that is neither, raise a one-line WaveflowError
    (for the latter, the NVIDIA reader's, which names what it found).
    """
    regular_file(path, "checkpoint")
    try:
        return load_checkpoint(path)
    except WaveflowError:
        return load_nvidia_waveglow(path, hop_length=hop_length)


def load_vocoder(
    path: str | os.PathLike[str], device: torch.device, sample_rate: int | None = None
) -> tuple[Vocoder, MelConfig]:
    """Load a vocoder checkpoint; returns ``(model in eval mode, mel front end)``.

    Native checkpoints of ``task: waveglow`` (WaveGlow) and ``task: distill`` (an IAF student,
    :class:`~waveflow.audio.models.student.IAFStudent`) bring the mel settings they were trained
    with (their ``data:`` section, sample rate included); a ``sample_rate`` other than the stored
    one is refused (:func:`check_sample_rate`). An NVIDIA WaveGlow checkpoint (auto-detected)
    stores no rate: it gets the Tacotron2 defaults with the model's hop and mel channel count, at
    ``sample_rate`` if given (fmax capped at its Nyquist).
    """
    opened = open_vocoder_file(path)
    if isinstance(opened, WaveGlow):  # NVIDIA's
        rate = sample_rate or MelConfig.sample_rate
        mel_config = MelConfig(
            sample_rate=rate,
            hop_length=opened.config.hop_length,
            n_mels=opened.config.n_mel_channels,
            fmax=min(MelConfig.fmax or rate / 2, rate / 2),
        )
        return opened.to(device).eval(), mel_config
    return vocoder_from_checkpoint(opened, path, device, sample_rate)


def vocoder_from_checkpoint(
    ckpt: dict,
    path: str | os.PathLike[str],
    device: torch.device,
    sample_rate: int | None = None,
    name: str | None = None,
) -> tuple[Vocoder, MelConfig]:
    """``(model in eval mode, mel front end)`` of a native vocoder checkpoint read by
    ``waveflow.checkpoint.load_checkpoint`` (a model of another task is an error). A
    ``sample_rate`` other than the checkpoint's is refused (:func:`check_sample_rate`; ``name``
    is how the error calls the model, default: its path)."""
    if ckpt["task"] not in VOCODER_TASKS:
        raise WaveflowError(
            f"{path} holds a {ckpt['task']!r} model, not a vocoder "
            f"(tasks: {', '.join(VOCODER_TASKS)})"
        )
    model = model_from_checkpoint(ckpt, path)
    mel = (ckpt["config"].get("data") or {}).get("mel") or {
        "hop_length": model.config.hop_length,
        "n_mels": model.config.n_mel_channels,
    }
    mel_config = from_dict(MelConfig, mel, "data.mel")
    check_sample_rate(mel_config, sample_rate, name or str(path))
    return model.to(device).eval(), mel_config


class SampleRateMismatch(WaveflowError):
    """A model was asked for, or given, audio at a rate other than the one it was trained at."""


def check_sample_rate(mel_config: MelConfig, sample_rate: int | None, name: str) -> None:
    """Raise `SampleRateMismatch` (one line with both rates) if ``sample_rate`` is not
    ``mel_config.sample_rate``, the rate the model ``name`` runs at; None passes."""
    if sample_rate is not None and sample_rate != mel_config.sample_rate:
        raise SampleRateMismatch(
            f"{name} expects {mel_config.sample_rate} Hz, received {sample_rate} Hz (the rate "
            f"it was trained at: resample, or use a model trained at {sample_rate} Hz)"
        )
