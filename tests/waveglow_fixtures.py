"""A tiny WaveGlow config and the model as a bijector on audio, shared by WaveGlow tests."""

from __future__ import annotations

import torch

from waveflow.audio.models.waveglow import WaveGlow

TINY = dict(
    n_mel_channels=5, n_flows=4, n_group=4, n_early_every=2, n_early_size=2,
    n_layers=2, n_channels=8, kernel_size=3, hop_length=8, upsample_kernel=16,
)  # fmt: skip


class FixedMel(torch.nn.Module):
    """The model as a bijector on audio [B, 1, T] for a fixed mel (for assert_bijective)."""

    def __init__(self, model: WaveGlow, mel: torch.Tensor) -> None:
        super().__init__()
        self.model, self.mel = model, mel

    def forward(self, x, cond=None):
        z, logdet = self.model(x[:, 0], self.mel[: x.shape[0]] if cond is None else cond)
        return z[:, None], logdet

    def inverse(self, y, cond=None):
        x, logdet = self.model.inverse(y[:, 0], self.mel[: y.shape[0]] if cond is None else cond)
        return x[:, None], logdet
