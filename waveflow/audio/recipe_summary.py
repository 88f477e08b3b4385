"""The vocoder recipe's summary: held-out NLL, copy-synthesis mel distance, real-time factor.

    python -m waveflow.audio.recipe_summary --checkpoint CKPT --ref DIR --mels DIR --gen DIR
                                            [--baseline DIR] [--sigma 0.6] [--json OUT]

- `--ref`: the held-out recordings `<id>.wav|.flac` (the NLL is computed on them, whole);
- `--mels`: their cached log-mels `<id>.npy` [n_mels, frames] (same ids);
- `--gen` / `--baseline`: audio synthesized from those mels by the trained model and by a
  baseline (Griffin-Lim); each is scored by the log-mel L1 distance to `--ref` (lower is
  better; 0 = identical log-mels).

The same numbers for a freshly initialised model of the same architecture are reported as a
floor: its NLL, and the mel distance of its synthesis, which is white Gaussian noise of std
sigma (every coupling of an untrained WaveGlow is the identity).

Conventions: NLL in bits per audio sample of the continuous density of audio in [-1, 1]
(negative values are normal; add 15 for 16-bit quantisation bins), averaged over all test
samples. The real-time factor is synthesis compute time / duration of the audio produced
(below 1 = faster than real time), measured after one warm-up call, fp32, on `--device`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from waveflow.audio.io import AUDIO_SUFFIXES
from waveflow.audio.likelihood import held_out_nll
from waveflow.audio.waveglow import WaveGlow
from waveflow.errors import WaveflowError


@torch.no_grad()
def real_time_factor(
    model: WaveGlow,
    mels: Sequence[torch.Tensor],
    sample_rate: int,
    sigma: float = 0.6,
    device: torch.device | str = "cpu",
) -> float:
    """Compute seconds per second of audio of `model.infer(mel [1, n_mels, F], sigma)` over
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
    return elapsed / audio_seconds


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


def recipe_summary(args: argparse.Namespace) -> dict[str, Any]:
    """Compute the summary described in the module docstring as a JSON-ready dict."""
    from waveflow.audio.io import load_audio
    from waveflow.checkpoint import load_model
    from waveflow.config import from_dict
    from waveflow.task import get_task

    device = torch.device(args.device)
    model, ckpt = load_model(args.checkpoint, map_location=device)
    task = get_task(ckpt["task"])
    if not isinstance(model, WaveGlow):
        raise WaveflowError(f"{args.checkpoint} holds a {ckpt['task']!r} model, not WaveGlow")
    data_cfg = from_dict(task.data_config, ckpt["config"]["data"], "data")
    mel_config = data_cfg.mel
    rate = mel_config.sample_rate
    pairs = paired_test_files(args.ref, args.mels)
    files = [ref for ref, _ in pairs]
    refs = [load_audio(ref, rate) for ref in files]
    mels = [torch.from_numpy(np.load(mel)).float() for _, mel in pairs]
    torch.manual_seed(0)
    untrained = task.build_model(model.config).to(device).eval()

    def nll(vocoder: WaveGlow, mismatched: bool = False) -> float:
        result = held_out_nll(
            vocoder, files, mel_config, data_cfg.sigma, device, mismatched=mismatched
        )
        return result["bits_per_sample"]

    return {
        "checkpoint": str(args.checkpoint),
        "step": int(ckpt.get("step", -1)),
        "device": str(device),
        "test_utterances": len(files),
        "test_seconds": sum(len(ref) for ref in refs) / rate,
        "sigma": args.sigma,
        "nll_bits_per_sample": nll(model),
        "untrained_nll_bits_per_sample": nll(untrained),
        "mismatched_mel_nll_bits_per_sample": nll(model, mismatched=True),
        "mel_l1": mel_distance(args.ref, args.gen, rate),
        "baseline_mel_l1": mel_distance(args.ref, args.baseline, rate) if args.baseline else None,
        "noise_mel_l1": synthesis_mel_distance(untrained, refs, mels, rate, args.sigma, device),
        "real_time_factor": real_time_factor(model, mels, rate, args.sigma, device),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A Markdown table of the summary (as printed by `make demo`)."""
    sigma = summary["sigma"]
    rtf = summary["real_time_factor"]
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
        (f"real-time factor, {summary['device']}", f"{rtf:.3f} ({1 / rtf:.1f}x real time)"),
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m waveflow.audio.recipe_summary",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="waveflow checkpoint")
    parser.add_argument("--ref", type=Path, required=True, metavar="DIR", help="test recordings")
    parser.add_argument("--mels", type=Path, required=True, metavar="DIR", help="their mels")
    parser.add_argument("--gen", type=Path, required=True, metavar="DIR", help="model audio")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="baseline audio")
    parser.add_argument("--sigma", type=float, default=0.6, help="synthesis sigma (0.6)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the summary as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = recipe_summary(args)
        if args.json is not None:
            write_summary_json(summary, args.json)
    except (ValueError, OSError) as err:
        if os.environ.get("WAVEFLOW_DEBUG"):
            raise
        print(f"recipe summary: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
