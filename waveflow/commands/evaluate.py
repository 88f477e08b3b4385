"""`waveflow evaluate`: objective metrics of audio, held-out likelihood of a checkpoint.

Modes (they combine for audio):
  --ref DIR --gen DIR          metrics of generated audio against reference recordings
  --ref DIR --checkpoint CKPT  exact held-out NLL (bits per sample) of a WaveGlow checkpoint
                               (native or NVIDIA) on the reference recordings, conditioned on
                               their mels (computed, or read from --mels DIR by name)
  --checkpoint GLOW_CKPT       test-set bits/dim of an image Glow checkpoint

Files of --gen and --ref are paired by name stem (LJ001-0001.wav ~ LJ001-0001.flac), must be
mono at --sample-rate, and are trimmed to the shorter of each pair. Prints a table of
mean / std / count per metric and can write per-file values and the summary as JSON and
reference / generated / difference log-mel plots. Unmatched files are listed as warnings; a
file pair that cannot be read or evaluated is reported and skipped, and makes the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waveflow.argtypes import positive_float, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="audio metrics (mel L1, MR-STFT, PESQ, STOI, MCD, F0), held-out NLL, image bits/dim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ref", type=Path, metavar="DIR", help="reference audio")
    parser.add_argument("--gen", type=Path, metavar="DIR", help="generated audio")
    parser.add_argument(
        "--checkpoint", type=Path, metavar="CKPT", help="WaveGlow (held-out NLL) or Glow checkpoint"
    )
    parser.add_argument(
        "--mels", type=Path, metavar="DIR", help="mels (.npy/.pt) of the --ref files, by name"
    )
    parser.add_argument(
        "--sigma", type=positive_float, default=1.0, help="prior std for the NLL (1.0)"
    )
    parser.add_argument(
        "--chunk-samples",
        type=int,
        metavar="N",
        help="held-out NLL in exact chunks of N samples (multiple of the hop; default 2048 frames)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (checkpoints)")
    image = parser.add_argument_group("image checkpoints")
    image.add_argument("--data-root", help="dataset folder (default: the checkpoint's data.root)")
    image.add_argument("--split", choices=["test", "train"], default="test")
    image.add_argument("--batch-size", type=positive_int, default=256)
    image.add_argument("--max-images", type=positive_int, help="evaluate only the first N images")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write per-file values + summary")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write one mel PNG per pair")
    parser.add_argument(
        "--metrics",
        type=_comma_list,
        metavar="A,B",
        help="metrics to compute: mel, mrstft, pesq, stoi, mcd, f0 (default: all)",
    )
    parser.add_argument(
        "--sample-rate", type=positive_int, default=22050, help="Hz (default 22050)"
    )
    parser.add_argument("--dtw", action="store_true", help="align MCD frames by DTW")
    parser.set_defaults(func=run)


def _comma_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def run(args: argparse.Namespace) -> int:
    from waveflow.errors import WaveflowError
    from waveflow.image import IMAGE_TASKS

    if args.checkpoint is not None and _checkpoint_task(args.checkpoint, args.ref) in IMAGE_TASKS:
        return _run_image(args)
    if args.ref is None:
        raise WaveflowError("--ref DIR (the reference recordings) is required for audio")
    if args.gen is None and args.checkpoint is None:
        raise WaveflowError("give --gen DIR (metrics) and/or --checkpoint CKPT (held-out NLL)")
    per_file: dict = {}
    summary: dict = {}
    problems: list[str] = []
    failed: list[str] = []
    if args.gen is not None:
        from waveflow.audio.metrics import evaluate_dirs

        per_file, summary, problems, failed = collect_warnings(
            evaluate_dirs, args.ref, args.gen, args.sample_rate, args.metrics, dtw=args.dtw
        )
        if not per_file and not failed:
            raise WaveflowError(f"no audio files of the same name in {args.ref} and {args.gen}")
    if args.checkpoint is not None:
        summary.update(_nll_summary(args))
    print(format_table(summary))
    if args.json is not None:
        write_json(args.json, evaluation_record(args, per_file, summary, problems, failed))
        print(f"wrote {args.json}")
    if args.plots is not None and args.gen is not None:
        write_mel_plots(args.ref, args.gen, sorted(per_file), args.plots, args.sample_rate)
        print(f"wrote {len(per_file)} plot(s) to {args.plots}")
    return 1 if failed else 0


def _checkpoint_task(path: Path, ref: Path | None) -> str:
    """The task of a native checkpoint; anything else is tried as an NVIDIA WaveGlow when
    there are --ref recordings to score, and is an error otherwise (image mode)."""
    from waveflow.checkpoint import load_checkpoint
    from waveflow.errors import WaveflowError

    try:
        return str(load_checkpoint(path)["task"])
    except WaveflowError:
        if ref is None:
            raise
        return "waveglow"


def _run_image(args: argparse.Namespace) -> int:
    from waveflow.device import resolve_device
    from waveflow.image.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.checkpoint,
        data_root=args.data_root,
        split=args.split,
        batch_size=args.batch_size,
        max_images=args.max_images,
        device=resolve_device(args.device),
    )
    print(
        f"{result['split']} bits/dim: {result['bits_per_dim']:.4f} over "
        f"{int(result['images'])} images"
    )
    if args.json is not None:
        write_json(args.json, result)
    return 0


def _nll_summary(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Held-out NLL of the --ref recordings under the --checkpoint vocoder, as summary rows."""
    from waveflow.audio.io import collect_files
    from waveflow.audio.likelihood import held_out_nll
    from waveflow.audio.student import IAFStudent
    from waveflow.audio.synthesis import load_vocoder, synthesis_chunk
    from waveflow.device import resolve_device
    from waveflow.errors import WaveflowError

    device = resolve_device(args.device)
    model, mel_config = load_vocoder(args.checkpoint, device)
    if isinstance(model, IAFStudent):
        raise WaveflowError(
            f"{args.checkpoint} is an IAF student (task: distill): its exact NLL runs one "
            "network call per audio sample and is not computed here; score its synthesis "
            "with --gen"
        )
    chunk = synthesis_chunk(model, args.chunk_samples)  # fails before reading audio
    files, errors = collect_files([args.ref])
    if errors or not files:
        raise WaveflowError("; ".join(errors) or f"no .wav/.flac files in {args.ref}")
    result = held_out_nll(
        model,
        files,
        mel_config,
        args.sigma,
        device,
        mel_dir=args.mels,
        chunk_samples=chunk,
    )
    n = result["files"]
    return {
        "nll_bits_per_sample": {"mean": result["bits_per_sample"], "std": math.nan, "n": n},
        "nll_nats_per_sample": {"mean": result["nats_per_sample"], "std": math.nan, "n": n},
    }


def collect_warnings(
    evaluate: Callable[..., tuple[Any, Any]], *args: Any, **kwargs: Any
) -> tuple[Any, Any, list[str], list[str]]:
    """Run `evaluate(*args, **kwargs) -> (per_file, summary)`, printing its evaluation warnings.

    Returns (per_file, summary, problems, failed): all warning messages, and those of file
    pairs that failed. Each one is also printed to stderr as "waveflow evaluate: warning: ...".
    """
    from waveflow.audio.metrics import EvaluationWarning, FileFailedWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvaluationWarning)
        per_file, summary = evaluate(*args, **kwargs)
    problems, failed = [], []
    for warning in caught:
        if not issubclass(warning.category, EvaluationWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
            continue
        message = str(warning.message)
        problems.append(message)
        if issubclass(warning.category, FileFailedWarning):
            failed.append(message)
        print(f"waveflow evaluate: warning: {message}", file=sys.stderr)
    return per_file, summary, problems, failed


def format_table(summary: dict[str, dict[str, float]]) -> str:
    """Plain-text table: one row per result key with mean, std, n and the better direction."""
    from waveflow.audio.metrics import HIGHER_IS_BETTER

    header = f"{'metric':<16}{'mean':>12}{'std':>12}{'n':>6}  better"
    rows = [header, "-" * len(header)]
    for key, stats in summary.items():
        better = "higher" if key in HIGHER_IS_BETTER else "lower"
        rows.append(
            f"{key:<16}{stats['mean']:>12.4f}{stats['std']:>12.4f}{int(stats['n']):>6}  {better}"
        )
    return "\n".join(rows)


def evaluation_record(
    args: argparse.Namespace,
    per_file: dict[str, dict[str, float]],
    summary: dict[str, dict[str, float]],
    problems: list[str],
    failed: list[str],
) -> dict[str, Any]:
    """JSON-ready record of one evaluation; NaN (undefined) values become null."""
    return _nan_to_none(
        {
            "ref_dir": str(args.ref),
            "gen_dir": str(args.gen),
            "sample_rate": args.sample_rate,
            "metrics": args.metrics,
            "dtw": args.dtw,
            "summary": summary,
            "per_file": per_file,
            "problems": problems,
            "failed": failed,
        }
    )


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write `record` as indented JSON, atomically."""
    from waveflow.atomic import atomic_path

    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_mel_plots(
    ref_dir: Path, gen_dir: Path, stems: list[str], out_dir: Path, sample_rate: int
) -> None:
    """One PNG `out_dir/<stem>.png` per evaluated pair: reference, generated, difference."""
    from waveflow.audio.features import MelConfig, MelSpectrogram
    from waveflow.audio.io import load_audio
    from waveflow.audio.metrics import pair_files
    from waveflow.audio.plots import plot_mel_comparison

    wanted = set(stems)
    front_end = MelSpectrogram(
        MelConfig(sample_rate=sample_rate, fmax=min(8000.0, sample_rate / 2))
    )
    for stem, ref_path, gen_path in pair_files(ref_dir, gen_dir).pairs:
        if stem not in wanted:
            continue
        ref_mel = front_end(load_audio(ref_path, sample_rate))
        gen_mel = front_end(load_audio(gen_path, sample_rate))
        plot_mel_comparison(ref_mel, gen_mel, out_dir / f"{stem}.png", title=stem)
