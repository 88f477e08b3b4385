"""Held-out NLL of a vocoder on whole recordings, matched and with mismatched mels."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import load_audio
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.tasks.likelihood import held_out_nll


def tiny_vocoder(perturb: bool) -> WaveGlow:
    torch.manual_seed(0)
    model = WaveGlow(n_flows=2, n_early_every=4, n_layers=2, n_channels=8).eval()
    if perturb:  # zero end convs make every coupling the identity, blind to the mel
        for name, param in model.named_parameters():
            if ".end." in name:
                param.data.normal_(0.0, 0.5)
    return model


def files_of(corpus: Path) -> list[Path]:
    return sorted((corpus / "wavs").glob("*.wav"))[:3]


def test_matched_nll_is_the_sample_weighted_mean_of_log_prob(tiny_ljspeech: Path) -> None:
    model, files = tiny_vocoder(perturb=True), files_of(tiny_ljspeech)
    result = held_out_nll(model, files, MelConfig())
    front_end, nats, samples = MelSpectrogram(), 0.0, 0
    with torch.no_grad():
        for file in files:
            audio = load_audio(file, 22050)
            audio = audio[: len(audio) - len(audio) % 256]
            nats -= float(model.log_prob(audio[None], front_end(audio)[None]))
            samples += len(audio)
    assert result["samples"] == samples and result["files"] == 3
    assert result["nats_per_sample"] == pytest.approx(nats / samples, rel=1e-5)
    assert result["bits_per_sample"] == pytest.approx(nats / samples / math.log(2), rel=1e-5)


def test_mismatched_mels_only_matter_to_a_model_that_uses_them(tiny_ljspeech: Path) -> None:
    files = files_of(tiny_ljspeech)
    blind = tiny_vocoder(perturb=False)
    matched = held_out_nll(blind, files, MelConfig())["bits_per_sample"]
    assert held_out_nll(blind, files, MelConfig(), mismatched=True)["bits_per_sample"] == (
        pytest.approx(matched, abs=1e-9)
    )
    listening = tiny_vocoder(perturb=True)
    matched = held_out_nll(listening, files, MelConfig())["bits_per_sample"]
    mismatched = held_out_nll(listening, files, MelConfig(), mismatched=True)["bits_per_sample"]
    assert abs(mismatched - matched) > 1e-4  # the blind model: below 1e-9
