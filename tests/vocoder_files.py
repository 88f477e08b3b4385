"""Tiny vocoder files for tests: a native WaveGlow checkpoint and random log-mels."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from waveflow.audio.models.waveglow import WaveGlow
from waveflow.checkpoint import save_checkpoint


def native_checkpoint(path, n_mel: int = 80, hop: int = 256) -> WaveGlow:
    """Save an untrained 4-flow WaveGlow (16 kHz mel) as a native checkpoint at `path`."""
    torch.manual_seed(0)
    model = WaveGlow(
        n_mel_channels=n_mel, n_flows=4, n_group=8, n_early_every=2, n_early_size=2,
        n_layers=2, n_channels=8, hop_length=hop, upsample_kernel=4 * hop,
    )  # fmt: skip
    config = {"model": asdict(model.config), "data": {"mel": {"sample_rate": 16000}}}
    save_checkpoint({"task": "waveglow", "config": config, "model": model.state_dict()}, path)
    return model


def log_mel(n_mel: int, frames: int, seed: int) -> np.ndarray:
    """A random log-mel ``[n_mel, frames]`` in the range of real ones."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-11.5, 1.0, size=(n_mel, frames))).astype(np.float32)
