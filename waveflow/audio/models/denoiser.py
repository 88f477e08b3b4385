"""NVIDIA-style WaveGlow denoiser: subtract the model's "bias" spectrum from its output.

A WaveGlow vocoder leaks a stationary hiss even for a silent input. ``Denoiser(model)`` runs the
model at ``sigma = 0`` on a silent mel (all zeros, ``mode="zeros"``, or ``N(0, 1)`` noise,
``mode="normal"``) with the model's mel channel count and averages the STFT magnitude of the
result over frames: the bias spectrum ``[n_fft // 2 + 1, 1]``. ``denoiser(audio, strength)``
subtracts ``strength * bias`` from the STFT magnitude of ``audio`` (clamped at 0) and inverts
with the original phase (Hann window, ``torch.stft``/``torch.istft``); the length is kept.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.errors import WaveflowError

BIAS_FRAMES = 88


class Denoiser(nn.Module):
    """Bias-spectrum removal for a model with ``infer(mel [1, M, F], sigma=0)`` (WaveGlow)."""

    bias_spec: Tensor
    window: Tensor

    def __init__(
        self,
        model: nn.Module,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        mode: str = "zeros",
    ) -> None:
        super().__init__()
        if mode not in ("zeros", "normal"):
            raise WaveflowError(f"Denoiser: mode must be 'zeros' or 'normal', got {mode!r}")
        if win_length > n_fft:
            raise WaveflowError(f"Denoiser: win_length {win_length} exceeds n_fft {n_fft}")
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        param = next(model.parameters())
        shape = (1, model.config.n_mel_channels, BIAS_FRAMES)
        generator = torch.Generator(device=param.device).manual_seed(0)
        mel = (
            torch.zeros(shape, device=param.device, dtype=param.dtype)
            if mode == "zeros"
            else torch.randn(shape, generator=generator, device=param.device, dtype=param.dtype)
        )
        self.register_buffer("window", torch.hann_window(win_length, device=param.device))
        with torch.no_grad():
            bias_audio = model.infer(mel, sigma=0.0).float()
        magnitude = self._stft(bias_audio).abs()
        self.register_buffer("bias_spec", magnitude[0].mean(dim=-1, keepdim=True))

    def _stft(self, audio: Tensor) -> Tensor:
        return torch.stft(
            audio,
            self.n_fft,
            self.hop_length,
            self.win_length,
            window=self.window.to(audio.device),
            return_complex=True,
        )

    def forward(self, audio: Tensor, strength: float = 0.1) -> Tensor:
        """Denoise ``audio [T]`` or ``[B, T]``; returns the same shape and dtype."""
        if audio.dim() not in (1, 2) or audio.shape[-1] <= self.n_fft // 2:
            raise WaveflowError(
                f"Denoiser: audio must be [T] or [B, T] with T > {self.n_fft // 2}, "
                f"got {list(audio.shape)}"
            )
        spec = self._stft(audio.float())
        magnitude = (spec.abs() - strength * self.bias_spec.to(audio.device)).clamp(min=0.0)
        denoised = torch.polar(magnitude, spec.angle())
        out = torch.istft(
            denoised,
            self.n_fft,
            self.hop_length,
            self.win_length,
            window=self.window.to(audio.device),
            length=audio.shape[-1],
        )
        return out.to(audio.dtype)
