"""Opening a vocoder file that is either a native waveflow checkpoint or one of NVIDIA's.

The one place that tells the two apart: ``waveflow synthesize`` (and every command that loads a
vocoder) and ``waveflow convert`` open their input here; ``train.init_from`` gets the same
rule from `waveflow.checkpoint.load_init_weights` and the WaveGlow task's NVIDIA reader.
"""

from __future__ import annotations

import os
from typing import Any

from waveflow.audio.formats.nvidia import load_nvidia_waveglow
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.checkpoint import load_checkpoint
from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file


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
