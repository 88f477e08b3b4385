"""Scores of one model: held-out NLL and copy-synthesis metrics against the recordings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from waveflow.audio.metrics import evaluate_pair
from waveflow.audio.tasks.likelihood import held_out_nll

from .corpus import TestSet

DEFAULT_METRICS = ("mel", "mrstft", "stoi", "pesq", "f0")


def nll_bits(model: torch.nn.Module, test: TestSet, device: str) -> float:
    """Held-out NLL in bits per audio sample over the whole test utterances."""
    result = held_out_nll(model, test.files, test.mel_config, test.sigma, device)
    return result["bits_per_sample"]


def copy_synthesis_scores(
    render: Callable[[torch.Tensor, int], torch.Tensor],
    test: TestSet,
    metrics: Sequence[str],
) -> dict[str, float]:
    """Mean of each metric over the test set, `render(mel [n_mels, F], index) -> audio [T]`."""
    per_key: dict[str, list[float]] = {}
    rate = test.mel_config.sample_rate
    for index, (ref, mel) in enumerate(zip(test.audio, test.mels, strict=True)):
        gen = render(mel, index).detach().float().cpu().clamp(-1.0, 1.0)
        for key, value in evaluate_pair(ref, gen, rate, list(metrics)).items():
            per_key.setdefault(key, []).append(value)
    return {key: float(np.mean(values)) for key, values in per_key.items()}


def vocoder_renderer(
    model: torch.nn.Module, sigma: float, device: str
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """Synthesis at temperature `sigma`, the latent of utterance i drawn with seed i."""

    @torch.no_grad()
    def render(mel: torch.Tensor, index: int) -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(index)
        return model.infer(mel[None].to(device), sigma, generator=generator)[0]

    return render


def griffin_lim_renderer(test: TestSet) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The Griffin-Lim reference (no training), phase seed = utterance index."""
    from waveflow.audio.synthesis.griffin_lim import griffin_lim

    return lambda mel, index: griffin_lim(mel, test.mel_config, seed=index)
