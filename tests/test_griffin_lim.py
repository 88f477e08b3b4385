"""Griffin-Lim baseline: exact output length, filterbank consistency, quality vs noise."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import load_audio
from waveflow.audio.metrics import evaluate_pair
from waveflow.audio.synthesis.griffin_lim import griffin_lim, mel_to_linear_magnitude
from waveflow.errors import WaveflowError

CLIP = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "demo-ljspeech"
    / "wavs"
    / "allison-call-forwarding.flac"
)


@pytest.fixture(scope="module")
def speech() -> torch.Tensor:
    return load_audio(CLIP, 22050)


def test_output_length_is_frames_times_hop_and_quality_beats_noise(speech: torch.Tensor) -> None:
    config = MelConfig()
    mel = MelSpectrogram(config)(speech)
    audio = griffin_lim(mel, config, n_iter=32)
    assert audio.shape == (mel.shape[1] * config.hop_length,)
    assert audio.dtype == torch.float32 and torch.isfinite(audio).all()
    noise = torch.randn(speech.shape, generator=torch.Generator().manual_seed(0)) * speech.std()
    gl_distance = evaluate_pair(speech, audio, 22050, ["mel"])["mel_l1"]
    noise_distance = evaluate_pair(speech, noise, 22050, ["mel"])["mel_l1"]
    assert gl_distance < 0.1 * noise_distance, (gl_distance, noise_distance)


def test_same_seed_gives_same_audio() -> None:
    config = MelConfig(hop_length=128, n_fft=512, win_length=512, n_mels=40)
    mel = torch.rand(40, 12, generator=torch.Generator().manual_seed(0)) - 4.0
    first = griffin_lim(mel, config, n_iter=4, seed=3)
    assert torch.equal(first, griffin_lim(mel, config, n_iter=4, seed=3))
    assert first.shape == (12 * 128,)


def test_linear_magnitude_reprojects_onto_the_front_end_mel(speech: torch.Tensor) -> None:
    """NNLS through the same Slaney filterbank: mapping back to mel recovers the input."""
    config = MelConfig()
    front_end = MelSpectrogram(config)
    mel = front_end(speech[:8192])
    linear = mel_to_linear_magnitude(mel, config)
    assert linear.shape == (config.n_fft // 2 + 1, mel.shape[1]) and (linear >= 0).all()
    remel = front_end.filterbank.double() @ linear
    voiced_bins = mel > -6.0  # well above the log floor, where the fit is meaningful
    relative = (remel[voiced_bins] - mel.exp().double()[voiced_bins]).abs() / mel.exp()[voiced_bins]
    assert relative.median() < 0.01


@pytest.mark.parametrize(
    ("mel", "message"),
    [
        (torch.zeros(40, 10), r"\[n_mels=80, frames\]"),
        (torch.zeros(80), r"\[n_mels=80, frames\]"),
        (torch.zeros(80, 0), "no frames"),
        (torch.full((80, 5), float("nan")), "NaN or infinite"),
    ],
)
def test_bad_mel_raises_a_clear_error(mel: torch.Tensor, message: str) -> None:
    with pytest.raises(WaveflowError, match=message):
        griffin_lim(mel, MelConfig(), n_iter=1)
