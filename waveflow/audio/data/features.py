"""Log-mel spectrogram front end, compatible with Tacotron2 / WaveGlow (NVIDIA).

With the `MelConfig` defaults the features equal those of Tacotron2's `TacotronSTFT`:
periodic Hann window of `win_length` zero-padded (centred) to `n_fft`; frames centred on
samples k * hop_length with REFLECT padding of n_fft // 2 at both ends; STFT magnitude (not
power); librosa Slaney-style mel filterbank (htk=False, norm='slaney'); natural log of
max(x, log_floor). A clip of T samples gives 1 + T // hop_length frames.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from waveflow.audio.data.mel_presets import expand_preset
from waveflow.errors import WaveflowError

#: Largest n_fft (and win_length) and n_mels a mel config may ask for: far above any speech
#: front end, and small enough that a file's config cannot allocate gigabytes of filter bank.
MAX_N_FFT = 1 << 16
MAX_N_MELS = 1024


@dataclass(frozen=True)
class MelConfig:
    """Parameters of the log-mel front end. Frequencies in Hz; `fmax=None` means Nyquist."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = 8000.0
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise WaveflowError(f"mel config: {name} must be a positive integer, got {value!r}")
        if self.n_fft > MAX_N_FFT or self.n_mels > MAX_N_MELS:
            raise WaveflowError(
                f"mel config: n_fft ({self.n_fft}) must be <= {MAX_N_FFT} and n_mels "
                f"({self.n_mels}) <= {MAX_N_MELS}"
            )
        if self.win_length > self.n_fft:
            raise WaveflowError(
                f"mel config: win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})"
            )
        nyquist = self.sample_rate / 2
        fmax = nyquist if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= nyquist:
            raise WaveflowError(
                f"mel config: need 0 <= fmin < fmax <= sample_rate / 2 ({nyquist:g} Hz), got "
                f"fmin={self.fmin!r}, fmax={self.fmax!r}"
            )
        if not self.log_floor > 0:
            raise WaveflowError(f"mel config: log_floor must be positive, got {self.log_floor!r}")

    @classmethod
    def expand_mapping(cls, values: Mapping[str, Any], prefix: str = "mel") -> dict[str, Any]:
        """`values` with a ``preset`` key (see `waveflow.audio.data.mel_presets`) replaced by the
        preset's values; keys given next to it override the preset's."""
        return expand_preset(values, prefix)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MelConfig:
        """Build from a mapping (e.g. a YAML section), which may name a ``preset``; unknown
        keys are a `WaveflowError`."""
        values = cls.expand_mapping(values)
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise WaveflowError(
                f"mel config: unknown key(s) {', '.join(unknown)}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a clip of `num_samples` samples: 1 + num_samples // hop_length."""
        return 1 + num_samples // self.hop_length


class MelSpectrogram(torch.nn.Module):
    """Audio [T] or [B, T] (float, any device) -> log-mel [n_mels, F] or [B, n_mels, F] float32.

    F = 1 + T // hop_length; frame k is centred on sample k * hop_length. T must exceed
    n_fft // 2 (required by reflect padding). Audio is expected in [-1, 1]. Frames are computed
    ``chunk_frames`` at a time from the reflect-padded audio (each frame only reads its own
    ``n_fft`` samples, so this is exact), so an hour of audio needs no gigabytes of spectrum.
    """

    chunk_frames = 4096

    filterbank: torch.Tensor
    window: torch.Tensor

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        import librosa

        self.config = config or MelConfig()
        c = self.config
        filterbank = librosa.filters.mel(
            sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax
        )
        self.register_buffer("filterbank", torch.from_numpy(filterbank).float(), persistent=False)
        self.register_buffer(
            "window", torch.hann_window(c.win_length, periodic=True), persistent=False
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        c = self.config
        if not isinstance(audio, torch.Tensor) or not audio.is_floating_point():
            raise WaveflowError("mel: audio must be a floating-point tensor [T] or [B, T]")
        if audio.dim() not in (1, 2):
            raise WaveflowError(
                f"mel: audio must have shape [T] or [B, T], got {tuple(audio.shape)}"
            )
        if audio.shape[-1] <= c.n_fft // 2 or audio.numel() == 0:
            raise WaveflowError(
                f"mel: audio has {audio.shape[-1]} samples; need more than n_fft // 2 = "
                f"{c.n_fft // 2}"
            )
        if not torch.isfinite(audio).all():
            raise WaveflowError("mel: audio contains NaN or infinite samples")
        audio = audio.float()
        batched = audio if audio.dim() == 2 else audio[None]
        half = c.n_fft // 2
        padded = torch.nn.functional.pad(batched[:, None], (half, half), mode="reflect")[:, 0]
        frames = c.num_frames(audio.shape[-1])
        mel = torch.empty(batched.shape[0], c.n_mels, frames, device=audio.device)
        for first in range(0, frames, self.chunk_frames):
            last = min(first + self.chunk_frames, frames)
            piece = padded[:, first * c.hop_length : (last - 1) * c.hop_length + c.n_fft]
            mel[:, :, first:last] = self._log_mel(piece)
        return mel if audio.dim() == 2 else mel[0]

    def _log_mel(self, padded: torch.Tensor) -> torch.Tensor:
        """Log-mel of every full frame of already padded audio ``[B, T']`` (no centring)."""
        c = self.config
        spectrum = torch.stft(
            padded,
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            win_length=c.win_length,
            window=self.window.to(padded.device),
            center=False,
            return_complex=True,
        )
        mel = torch.matmul(self.filterbank.to(padded.device), spectrum.abs())
        return torch.log(torch.clamp(mel, min=c.log_floor))


def _log_mel_problem(mel: torch.Tensor, log_floor: float) -> str | None:
    """Why `mel` does not look like natural-log mel features, or None if it does."""
    if mel.numel() == 0:
        return "it is empty"
    values = mel.detach().float()
    if not torch.isfinite(values).all():
        return "it contains NaN or infinite values"
    low, high = float(values.min()), float(values.max())
    if low >= 0:
        return (
            f"it has no negative values (min {low:.3g}, max {high:.3g}): it looks like a linear "
            "magnitude or power spectrogram, not a natural-log mel"
        )
    if low < math.log(log_floor) - 1.0:
        return (
            f"its minimum {low:.3g} is far below log({log_floor:g}) = {math.log(log_floor):.3g}: "
            "it looks like a dB or differently floored spectrogram"
        )
    if high > 12.0:
        return f"its maximum {high:.3g} is too large for the natural log of a mel magnitude"
    return None


def looks_like_log_mel(mel: torch.Tensor, log_floor: float = 1e-5) -> bool:
    """Heuristic: True if `mel` is plausibly natural-log mel magnitude floored at `log_floor`.

    Linear-magnitude or power spectrograms (never negative), dB-scaled ones (far below
    log(log_floor)) and non-finite inputs are rejected.
    """
    return _log_mel_problem(mel, log_floor) is None


def check_log_mel(mel: torch.Tensor, name: str = "mel", log_floor: float = 1e-5) -> None:
    """Warn (UserWarning) if `mel` does not look like natural-log mel features."""
    problem = _log_mel_problem(mel, log_floor)
    if problem is not None:
        warnings.warn(f"{name} may not be a log-mel spectrogram: {problem}", stacklevel=2)
