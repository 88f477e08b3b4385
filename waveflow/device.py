"""Choosing the compute device from a user's ``--device`` / ``train.device`` value."""

from __future__ import annotations

import torch

from waveflow.errors import WaveflowError


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WaveflowError("--device cuda requested but no CUDA device is available")
    return torch.device(name)
