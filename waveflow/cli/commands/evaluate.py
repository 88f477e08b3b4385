"""`waveflow evaluate`: objective metrics of audio, held-out likelihood of a checkpoint.

Modes (they combine for audio):
  --ref DIR --gen DIR          metrics of generated audio against reference recordings;
                               --gen NAME=DIR once per system compares several
  --html OUT                   with --gen: a static listening report OUT (+ OUT_files/):
                               per clip, players for the recording and every system, their
                               spectrogram PNGs and metrics, the best value marked
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

from waveflow.cli.argtypes import positive_float, positive_int
from waveflow.cli.outputs import add_overwrite_option


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="audio metrics (mel L1, MR-STFT, PESQ, STOI, MCD, F0), held-out NLL, image bits/dim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ref", type=Path, metavar="DIR", help="reference audio")
    parser.add_argument(
        "--gen",
        type=_system,
        action="append",
        metavar="[NAME=]DIR",
        help="generated audio; repeat for several systems (NAME: default the folder's name)",
    )
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
    parser.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="write one mel PNG per pair (in DIR/NAME/ for several --gen)",
    )
    report = parser.add_argument_group("listening report")
    report.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="write a static page OUT (+ folder OUT_files/): players for the recording and every "
        "--gen system per clip, spectrogram PNGs, the metrics with the best value marked",
    )
    report.add_argument("--title", default="Listening report", help="the page's title")
    report.add_argument(
        "--config", type=Path, metavar="FILE", help="a config (e.g. the training YAML) to show"
    )
    add_overwrite_option(parser)
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


def _system(text: str) -> tuple[str, Path]:
    """`NAME=DIR` or `DIR` (named after the folder) -> (name, folder)."""
    name, sep, folder = text.partition("=")
    if not sep or Path(text).is_dir():  # a folder whose name holds "="
        name, folder = "", text
    path = Path(folder)
    return (name or path.resolve().name or str(path)), path


def _comma_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def run(args: argparse.Namespace) -> int:
    from waveflow.errors import WaveflowError
    from waveflow.task import IMAGE_TASKS

    if args.checkpoint is not None and _checkpoint_task(args.checkpoint, args.ref) in IMAGE_TASKS:
        return _run_image(args)
    if args.ref is None:
        raise WaveflowError("--ref DIR (the reference recordings) is required for audio")
    if args.gen is None and args.checkpoint is None:
        raise WaveflowError("give --gen DIR (metrics) and/or --checkpoint CKPT (held-out NLL)")
    if args.html is not None:
        if args.gen is None:
            raise WaveflowError("--html needs at least one --gen DIR to listen to")
        replacing = check_report_outputs(args.html, args.no_overwrite)
    config_text = _read_config(args.config)
    systems, failed_any = [], False
    for name, directory in args.gen or []:
        system, problems, failed = _evaluate_system(args, name, directory)
        systems.append((system, problems, failed))
        failed_any = failed_any or bool(failed)
    nll = _nll_summary(args) if args.checkpoint is not None else {}
    if len(systems) <= 1:
        summary = {**(systems[0][0].summary if systems else {}), **nll}
        print(format_table(summary))
    else:
        for system, _, _ in systems:
            print(f"{system.name} ({system.directory}):\n{format_table(system.summary)}\n")
        if nll:
            print(f"held-out NLL of {args.checkpoint}:\n{format_table(nll)}")
    if args.json is not None:
        records = {
            system.name: evaluation_record(args, system, problems, failed)
            for system, problems, failed in systems
        }
        if len(systems) == 1:
            record = next(iter(records.values()))
            record["summary"] = {**record["summary"], **_nan_to_none(nll)}
        else:
            record = {"systems": records, **({"nll": _nan_to_none(nll)} if nll else {})}
        if not systems:
            record = _nan_to_none(
                {"ref_dir": str(args.ref), "checkpoint": str(args.checkpoint), "summary": nll}
            )
        write_json(args.json, record)
        print(f"wrote {args.json}")
    if args.plots is not None:
        for system, _, _ in systems:
            out = args.plots if len(systems) == 1 else args.plots / system.name
            write_mel_plots(args.ref, system.directory, sorted(system.per_file), out,
                            args.sample_rate)  # fmt: skip
            print(f"wrote {len(system.per_file)} plot(s) to {out}")
    if args.html is not None:
        _write_report(args, [system for system, _, _ in systems], config_text, replacing)
    return 1 if failed_any else 0


def _evaluate_system(
    args: argparse.Namespace, name: str, directory: Path
) -> tuple[Any, list[str], list[str]]:
    """(SystemResult, problems, failed) of one --gen folder against --ref."""
    from waveflow.audio.metrics import evaluate_dirs
    from waveflow.audio.metrics.listening_report import SystemResult
    from waveflow.errors import WaveflowError

    per_file, summary, problems, failed = collect_warnings(
        evaluate_dirs, args.ref, directory, args.sample_rate, args.metrics, dtw=args.dtw
    )
    if not per_file and not failed:
        raise WaveflowError(f"no audio files of the same name in {args.ref} and {directory}")
    return SystemResult(name, directory, per_file, summary), problems, failed


def check_report_outputs(page: Path, no_overwrite: bool) -> bool:
    """Apply the overwrite policy to the page and its media folder before any work; returns
    whether an existing page is replaced."""
    from waveflow.audio.metrics.listening_report import media_folder
    from waveflow.cli.outputs import check_outputs
    from waveflow.errors import WaveflowError

    check = check_outputs([page], no_overwrite)
    if check.blocked:
        raise WaveflowError(f"--html: {check.blocked[page]}")
    media = media_folder(page)
    if no_overwrite and (media.exists() or media.is_symlink()):
        raise WaveflowError(f"--html: {media} exists (--no-overwrite)")
    return bool(check.replacing)


def _read_config(path: Path | None) -> str | None:
    from waveflow.errors import WaveflowError
    from waveflow.inputs import regular_file

    if path is None:
        return None
    regular_file(path, "--config")
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise WaveflowError(f"--config {path}: cannot read ({err.strerror})") from err


def _write_report(
    args: argparse.Namespace, systems: list, config_text: str | None, replacing: bool
) -> None:
    import shlex

    from waveflow.audio.metrics.listening_report import write_listening_report

    settings = {
        "reference": args.ref,
        **{f"system {system.name}": system.directory for system in systems},
        "sample rate": f"{args.sample_rate} Hz",
        "metrics": ", ".join(args.metrics) if args.metrics else "all available",
        "MCD alignment": "DTW" if args.dtw else "none",
    }
    if args.config is not None:
        settings["config"] = args.config
    media = write_listening_report(
        args.html,
        args.ref,
        systems,
        args.sample_rate,
        title=args.title,
        settings=settings,
        command="waveflow " + shlex.join(getattr(args, "argv", [])),
        config_text=config_text,
    )
    replaced = " (replaced the existing page)" if replacing else ""
    print(f"wrote {args.html} and {media}/{replaced}")


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
    bound = (
        " (variational-dequantization bound)" if result["dequantization"] == "variational" else ""
    )
    print(
        f"{result['split']} bits/dim: {result['bits_per_dim']:.4f} over "
        f"{int(result['images'])} images{bound}"
    )
    if args.json is not None:
        write_json(args.json, result)
    return 0


def _nll_summary(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Held-out NLL of the --ref recordings under the --checkpoint vocoder, as summary rows."""
    from waveflow.audio.data.io import collect_files
    from waveflow.audio.formats.vocoder_file import load_vocoder
    from waveflow.audio.models.student import IAFStudent
    from waveflow.audio.synthesis.batch import synthesis_chunk
    from waveflow.audio.tasks.likelihood import held_out_nll
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
    args: argparse.Namespace, system: Any, problems: list[str], failed: list[str]
) -> dict[str, Any]:
    """JSON-ready record of one system's evaluation (a `SystemResult`); NaN (undefined)
    values become null."""
    return _nan_to_none(
        {
            "ref_dir": str(args.ref),
            "gen_dir": str(system.directory),
            "sample_rate": args.sample_rate,
            "metrics": args.metrics,
            "dtw": args.dtw,
            "summary": dict(system.summary),
            "per_file": dict(system.per_file),
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
    from waveflow.audio.metrics import pair_files
    from waveflow.audio.metrics.plots import plot_file_comparison

    wanted = set(stems)
    for stem, ref_path, gen_path in pair_files(ref_dir, gen_dir).pairs:
        if stem in wanted:
            plot_file_comparison(ref_path, gen_path, out_dir / f"{stem}.png", sample_rate, stem)
