"""Exact held-out negative log-likelihood of a vocoder on whole recordings."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from waveflow.audio.data.features import MelConfig
from waveflow.audio.models.waveflow_model import WaveFlow
from waveflow.audio.models.waveglow import WaveGlow


@torch.no_grad()
def held_out_nll(
    model: WaveGlow | WaveFlow,
    files: Sequence[Path],
    mel_config: MelConfig,
    sigma: float = 1.0,
    device: torch.device | str = "cpu",
    mel_dir: Path | None = None,
    mismatched: bool = False,
    chunk_samples: int | None = None,
) -> dict[str, float]:
    """Exact NLL of whole utterances under ``model``, averaged over all their samples.

    Each file's mel is computed with ``mel_config``, or read from ``mel_dir/<stem>.npy`` (or
    ``.pt``) when given; the audio is trimmed to what the mel covers and to a multiple of the
    model's ``n_group`` (and of the hop). ``sigma`` is the prior's std used in training (1.0).
    Unusable files are skipped with one warning (see ``AudioSegmentDataset``).

    Files are read one at a time and scored in exact chunks of ``chunk_samples`` (see
    :func:`waveflow.audio.models.chunked.log_prob`), so memory does not grow with their length
    or number. A model without chunked scoring (WaveFlow) scores each file whole
    (``model.log_prob``); ``chunk_samples`` must then be None.

    ``mismatched=True`` scores each utterance with the mel of the next one (cycled along time
    to the right length): the gap to the matched NLL measures how much the model relies on its
    conditioning (a vocoder that ignores the mel scores both the same).
    Returns ``{"bits_per_sample", "nats_per_sample", "files", "samples"}``.
    """
    from waveflow.audio.data.corpus import AudioSegmentDataset
    from waveflow.audio.models.chunked import log_prob
    from waveflow.audio.synthesis.batch import synthesis_chunk

    chunk_samples = synthesis_chunk(model, chunk_samples)
    whole = not isinstance(model, WaveGlow)
    dataset = AudioSegmentDataset(files, mel_config, segment_length=None, train=False)
    group = model.config.n_group
    total_nats, total_samples = 0.0, 0

    def pairs() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for file, (audio, mel) in zip(dataset.files, dataset, strict=True):
            if mel_dir is not None:
                mel = _read_mel_of(file, Path(mel_dir), model.config.n_mel_channels)
                audio = audio[: mel.shape[-1] * model.config.hop_length]
            yield audio[: audio.shape[0] - audio.shape[0] % group], mel

    for audio, mel in _with_next_mel(pairs()) if mismatched else pairs():
        audio_b, mel_b = audio[None].to(device), mel[None].to(device)
        if whole:
            log_p = model.log_prob(audio_b, mel_b, sigma).double()
        else:
            log_p = log_prob(model, audio_b, mel_b, sigma, chunk_samples)
        total_nats -= float(log_p[0])
        total_samples += audio.shape[0]
    nats = total_nats / total_samples
    return {
        "bits_per_sample": nats / math.log(2),
        "nats_per_sample": nats,
        "files": float(len(dataset)),
        "samples": float(total_samples),
    }


def _with_next_mel(
    pairs: Iterator[tuple[torch.Tensor, torch.Tensor]],
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Each audio with the NEXT utterance's mel (the last with the first's), cycled in time to
    the audio's own frame count; holds one utterance ahead, not the corpus."""
    first = previous = next(pairs, None)
    if first is None:
        return
    for current in pairs:
        yield previous[0], _cycled(current[1], previous[1].shape[-1])
        previous = current
    yield previous[0], _cycled(first[1], previous[1].shape[-1])


def _cycled(mel: torch.Tensor, frames: int) -> torch.Tensor:
    return mel[:, torch.arange(frames, device=mel.device) % mel.shape[-1]]


def _read_mel_of(audio_file: Path, mel_dir: Path, n_mel_channels: int) -> torch.Tensor:
    from waveflow.audio.synthesis.batch import read_mel
    from waveflow.errors import WaveflowError

    for suffix in (".npy", ".pt"):
        candidate = mel_dir / f"{audio_file.stem}{suffix}"
        if candidate.is_file():
            return read_mel(candidate, n_mel_channels)
    raise WaveflowError(f"no mel for {audio_file.name} in {mel_dir} (.npy or .pt)")
