"""The vocoder recipe's summary: held-out NLL, copy-synthesis mel distance, synthesis speed.

`recipe_summary(checkpoint, ref_dir, mel_dir, gen_dir, baseline_dir)` (the LJSpeech recipe's
`local/summary.py` is its command line):

- `ref_dir`: the held-out recordings `<id>.wav|.flac` (the NLL is computed on them, whole);
- `mel_dir`: their cached log-mels `<id>.npy` [n_mels, frames] (same ids);
- `gen_dir` / `baseline_dir`: audio synthesized from those mels by the trained model and by a
  baseline (Griffin-Lim); each is scored by the log-mel L1 distance to `ref_dir` (lower is
  better; 0 = identical log-mels).

The same numbers for a freshly initialised model of the same architecture are reported as a
floor: its NLL, and the mel distance of its synthesis, which is white Gaussian noise of std
sigma (every coupling of an untrained WaveGlow is the identity).

Conventions: NLL in bits per audio sample of the continuous density of audio in [-1, 1]
(negative values are normal; add 15 for 16-bit quantisation bins), averaged over all test
samples. Synthesis speed is "x real time": seconds of audio produced per second of compute
(above 1 = faster than real time; the same convention as `waveflow synthesize`), measured
after one warm-up call, fp32, on `device`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from waveflow.audio.data.features import MelConfig
from waveflow.audio.data.io import AUDIO_SUFFIXES
from waveflow.audio.models.waveflow_model import WaveFlow
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.tasks.likelihood import held_out_nll
from waveflow.audio.tasks.vocoder import FlowVocoderLossConfig
from waveflow.errors import WaveflowError


@torch.no_grad()
def times_real_time(
    model: WaveGlow,
    mels: Sequence[torch.Tensor],
    sample_rate: int,
    sigma: float = 0.6,
    device: torch.device | str = "cpu",
) -> float:
    """Seconds of audio per second of compute of `model.infer(mel [1, n_mels, F], sigma)` over
    `mels` ([n_mels, F] each, giving F * hop_length samples), after one short warm-up call."""
    device = torch.device(device)
    model.infer(mels[0][None, :, :16].to(device), sigma)
    _synchronize(device)
    start = time.perf_counter()
    for mel in mels:
        model.infer(mel[None].to(device), sigma)
    _synchronize(device)
    elapsed = time.perf_counter() - start
    audio_seconds = sum(mel.shape[1] * model.config.hop_length for mel in mels) / sample_rate
    return audio_seconds / elapsed


def mel_distance(ref_dir: Path, gen_dir: Path, sample_rate: int) -> float:
    """Mean log-mel L1 distance between same-named audio files of `gen_dir` and `ref_dir`."""
    from waveflow.audio.metrics import evaluate_dirs

    per_file, summary = evaluate_dirs(ref_dir, gen_dir, sample_rate, metrics=["mel"])
    if not per_file:
        raise WaveflowError(f"no audio file of {gen_dir} matches one of {ref_dir}")
    return summary["mel_l1"]["mean"]


@torch.no_grad()
def synthesis_mel_distance(
    model: WaveGlow,
    refs: Sequence[torch.Tensor],
    mels: Sequence[torch.Tensor],
    sample_rate: int,
    sigma: float = 0.6,
    device: torch.device | str = "cpu",
) -> float:
    """Mean log-mel L1 between `refs` ([T] each) and `model`'s synthesis from `mels`
    (latents from a generator seeded 0); computed in memory, nothing is written."""
    from waveflow.audio.metrics import evaluate_pair

    generator = torch.Generator(device=device).manual_seed(0)
    distances = []
    for ref, mel in zip(refs, mels, strict=True):
        gen = model.infer(mel[None].to(device), sigma, generator=generator)[0].cpu()
        distances.append(evaluate_pair(ref, gen.clamp(-1, 1), sample_rate, ["mel"])["mel_l1"])
    return float(np.mean(distances))


def paired_test_files(ref_dir: Path, mel_dir: Path) -> list[tuple[Path, Path]]:
    """(recording, mel file) pairs of the same id, sorted by id; every id must have both."""
    refs = {p.stem: p for p in ref_dir.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES}
    mels = {p.stem: p for p in mel_dir.glob("*.npy")}
    if not refs or refs.keys() != mels.keys():
        only = sorted(refs.keys() ^ mels.keys())[:3]
        raise WaveflowError(
            f"{ref_dir} ({len(refs)} recordings) and {mel_dir} ({len(mels)} mels) must hold "
            f"the same non-empty set of ids (e.g. {', '.join(only) or 'none found'})"
        )
    return [(refs[stem], mels[stem]) for stem in sorted(refs)]


def training_front_end_and_sigma(config: dict[str, Any]) -> tuple[MelConfig, float]:
    """The mel front end (``data.mel``) and the prior's std (``loss.sigma``, default 1.0) of a
    checkpoint's config; nothing else is read, so older checkpoints (``data.sigma``) load."""
    from waveflow.dataclass_dict import from_dict

    data = config.get("data") or {}
    mel = from_dict(
        MelConfig, (data.get("mel") or {}) if isinstance(data, dict) else {}, "data.mel"
    )
    return mel, from_dict(FlowVocoderLossConfig, config.get("loss") or {}, "loss").sigma


def recipe_summary(
    checkpoint: str | os.PathLike[str],
    ref_dir: Path,
    mel_dir: Path,
    gen_dir: Path,
    baseline_dir: Path | None = None,
    sigma: float = 0.6,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Compute the summary described in the module docstring as a JSON-ready dict."""
    from waveflow.audio.data.io import load_audio
    from waveflow.checkpoint import load_model
    from waveflow.task import get_task

    device = torch.device(device)
    model, ckpt = load_model(checkpoint, map_location=device)
    task = get_task(ckpt["task"])
    if not isinstance(model, (WaveGlow, WaveFlow)):
        raise WaveflowError(
            f"{checkpoint} holds a {ckpt['task']!r} model, not a WaveGlow or WaveFlow vocoder"
        )
    mel_config, train_sigma = training_front_end_and_sigma(ckpt["config"])
    rate = mel_config.sample_rate
    pairs = paired_test_files(Path(ref_dir), Path(mel_dir))
    files = [ref for ref, _ in pairs]
    refs = [load_audio(ref, rate) for ref in files]
    mels = [torch.from_numpy(np.load(mel)).float() for _, mel in pairs]
    torch.manual_seed(0)
    untrained = task.build_model(model.config).to(device).eval()

    def nll(vocoder: WaveGlow, mismatched: bool = False) -> float:
        result = held_out_nll(
            vocoder, files, mel_config, train_sigma, device, mismatched=mismatched
        )
        return result["bits_per_sample"]

    return {
        "checkpoint": str(checkpoint),
        "step": int(ckpt.get("step", -1)),
        "device": str(device),
        "test_utterances": len(files),
        "test_seconds": sum(len(ref) for ref in refs) / rate,
        "sigma": sigma,
        "nll_bits_per_sample": nll(model),
        "untrained_nll_bits_per_sample": nll(untrained),
        "mismatched_mel_nll_bits_per_sample": nll(model, mismatched=True),
        "mel_l1": mel_distance(Path(ref_dir), Path(gen_dir), rate),
        "baseline_mel_l1": (
            mel_distance(Path(ref_dir), Path(baseline_dir), rate) if baseline_dir else None
        ),
        "noise_mel_l1": synthesis_mel_distance(untrained, refs, mels, rate, sigma, device),
        "x_real_time": times_real_time(model, mels, rate, sigma, device),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A Markdown table of the summary (as printed by `make demo`)."""
    sigma = summary["sigma"]
    speed = summary["x_real_time"]
    rows = [
        (
            f"held-out NLL, bits/sample ({summary['test_utterances']} test utterances, "
            f"{summary['test_seconds']:.1f} s), trained / untrained",
            f"{summary['nll_bits_per_sample']:.3f} / "
            f"{summary['untrained_nll_bits_per_sample']:.3f}",
        ),
        (
            "held-out NLL with another utterance's mel (conditioning check: higher = uses the mel)",
            f"{summary['mismatched_mel_nll_bits_per_sample']:.3f}",
        ),
        (f"log-mel L1, WaveGlow copy-synthesis (sigma {sigma})", f"{summary['mel_l1']:.3f}"),
    ]
    if summary.get("baseline_mel_l1") is not None:
        rows.append(("log-mel L1, Griffin-Lim baseline", f"{summary['baseline_mel_l1']:.3f}"))
    rows += [
        (
            f"log-mel L1, white noise (untrained model, sigma {sigma})",
            f"{summary['noise_mel_l1']:.3f}",
        ),
        (f"synthesis speed, {summary['device']}", f"{speed:.1f}x real time"),
    ]
    name_width = max(len(name) for name, _ in rows)
    value_width = max(len("value"), *(len(value) for _, value in rows))
    lines = [
        f"| {'metric'.ljust(name_width)} | {'value'.ljust(value_width)} |",
        f"|{'-' * (name_width + 2)}|{'-' * (value_width + 2)}|",
    ]
    lines += [f"| {name.ljust(name_width)} | {value.ljust(value_width)} |" for name, value in rows]
    return "\n".join(lines)


def write_summary_json(summary: dict[str, Any], path: Path) -> None:
    """Write `summary` as indented JSON, atomically (NaN/inf written as null)."""
    from waveflow.atomic import atomic_write_text

    clean = {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in summary.items()
    }
    atomic_write_text(path, json.dumps(clean, indent=2) + "\n")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
