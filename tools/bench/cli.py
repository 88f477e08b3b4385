"""Argument parsing for ``tools/benchmark.py`` and the normal / ``--quick`` defaults.

Options left unset take the command's normal default, or its ``--quick`` default (a tiny model,
1 warm-up run, 2 timed runs) when ``--quick`` is given; options set explicitly always win.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from waveflow.errors import WaveflowError
from waveflow.reporting import run_reporting_errors

from .commands import (
    export_command,
    floor_command,
    glow_command,
    memory_command,
    synth_command,
    train_command,
)
from .report import write_section
from .versus import versus_command

COMMON = {"device": "cpu", "dtype": "fp32", "runs": 5, "warmup": 2, "sample_rate": 22050}
COMMON_QUICK = {"runs": 2, "warmup": 1}
DEFAULTS: dict[str, dict[str, object]] = {
    "synth": {"config": "published", "batch_size": 1, "seconds": "1,10", "sigma": 0.6},
    "export": {"config": "published", "batch_size": 1, "seconds": "1", "opset": 17},
    "train": {"config": "published", "batch_size": 12, "segment_length": 16000},
    "glow": {
        "image_size": 32,
        "channels": 3,
        "levels": 3,
        "steps": 32,
        "hidden": 512,
        "batch_size": 16,
        "n_samples": 16,
    },
    "floor": {
        "config": "published",
        "batch_size": 1,
        "seconds": "1",
        "sigma": 0.6,
        "matmul_size": 2048,
        "count_frames": 8,
        "count_segment": 2048,
    },
    "versus": {
        "config": "published",
        "batch_size": 1,
        "seconds": "1",
        "segment_length": 16000,
        "train_batch": 1,
        "dtypes": "fp32,bf16",
        "runs": 5,
        "warmup": 1,
    },
    "memory": {
        "config": "tiny",
        "seconds": "10,3600",
        "block_frames": 256,
        "chunk_samples": 0,
        "modes": "stream,offline",
    },
}
QUICK: dict[str, dict[str, object]] = {
    "synth": {"config": "tiny", "seconds": "0.1"},
    "export": {"config": "tiny", "seconds": "0.1"},
    "train": {"config": "tiny", "batch_size": 2, "segment_length": 2048},
    "glow": {
        "image_size": 8,
        "channels": 3,
        "levels": 2,
        "steps": 2,
        "hidden": 8,
        "batch_size": 4,
        "n_samples": 4,
    },
    "floor": {
        "config": "tiny",
        "seconds": "0.1",
        "matmul_size": 256,
        "count_frames": 2,
        "count_segment": 512,
    },
    "versus": {"config": "tiny", "seconds": "0.05", "segment_length": 1024, "dtypes": "fp32"},
    "memory": {"seconds": "0.5,2", "block_frames": 16},
}
COMMANDS: dict[str, Callable] = {
    "synth": synth_command,
    "export": export_command,
    "train": train_command,
    "glow": glow_command,
    "floor": floor_command,
    "versus": versus_command,
    "memory": memory_command,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark.py",
        description="Speed and memory of WaveGlow synthesis/training and Glow, and the "
        "compute floor. Medians of --runs timed runs after --warmup untimed ones; every case "
        "runs in a fresh subprocess (honest peak memory) unless --no-isolate.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    helps = {
        "synth": "WaveGlow synthesis: latency, kHz, x real time, peak memory",
        "export": "exported vocoder on the CPU: eager PyTorch vs TorchScript vs onnxruntime",
        "train": "WaveGlow training step (forward + backward + Adam): samples/s, peak memory",
        "glow": "Glow training step images/s and sampling latency",
        "floor": "compute floor: FLOPs/sample over the measured matmul rate vs. synthesis",
        "versus": "side by side with the reference of NVIDIA's maths, alternating: ratios",
        "memory": "peak RSS of streaming synthesis of short vs very long mels (flat in length)",
    }
    for name, help_text in helps.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common_options(p)
        _command_options(name, p)
    return parser


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=["cpu", "cuda"], help="default cpu")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], help="default fp32 (autocast)")
    p.add_argument("--runs", type=_positive_int, help="timed runs (default 5; quick 2)")
    p.add_argument("--warmup", type=_non_negative_int, help="untimed runs (default 2; quick 1)")
    p.add_argument("--threads", type=_positive_int, help="torch threads (default: torch's)")
    p.add_argument("--sample-rate", type=_positive_int, help="audio rate (default 22050)")
    p.add_argument("--json", type=Path, help="write/merge this command's section into OUT")
    p.add_argument("--quick", action="store_true", help="tiny model, 1 warm-up, 2 runs")
    p.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="run cases in this process (faster; CPU peak memory then not per case)",
    )


def _command_options(name: str, p: argparse.ArgumentParser) -> None:
    if name in ("synth", "export", "train", "floor", "versus", "memory"):
        p.add_argument(
            "--config",
            help="published | small | tiny | light | fast | FILE.yaml (default published)",
        )
    if name == "versus":
        p.add_argument("--seconds", help="mel duration to synthesise (default 1; 0: no synthesis)")
        p.add_argument("--batch-size", type=_positive_int, help="mels per synthesis (default 1)")
        p.add_argument(
            "--segment-length", type=_non_negative_int, help="train samples (16000; 0: no train)"
        )
        p.add_argument("--train-batch", type=_positive_int, help="train batch (default 1)")
        p.add_argument("--dtypes", help="waveflow precisions to time (default fp32,bf16)")
    if name == "memory":
        p.add_argument("--seconds", help="comma-separated mel durations (default 10,3600)")
        p.add_argument("--block-frames", type=_positive_int, help="frames per push (256)")
        p.add_argument(
            "--chunk-samples", type=_non_negative_int, help="chunk (default 0: the model's)"
        )
        p.add_argument("--modes", help="stream and/or offline (default stream,offline)")
    if name in ("synth", "export", "floor"):
        p.add_argument("--batch-size", type=_positive_int, help="mels per call (default 1)")
        p.add_argument("--seconds", help="comma-separated mel durations (default synth 1,10)")
    if name in ("synth", "floor"):
        p.add_argument("--sigma", type=float, help="latent std for synthesis (default 0.6)")
    if name == "export":
        p.add_argument("--opset", type=_positive_int, help="ONNX opset (default 17)")
    if name == "train":
        p.add_argument("--batch-size", type=_positive_int, help="default 12")
        p.add_argument("--segment-length", type=_positive_int, help="samples (default 16000)")
    if name == "glow":
        for flag, help_text in (
            ("--image-size", "default 32"),
            ("--channels", "default 3"),
            ("--levels", "default 3"),
            ("--steps", "steps per level (default 32)"),
            ("--hidden", "coupling-net channels (default 512)"),
            ("--batch-size", "training batch (default 16)"),
            ("--n-samples", "images per sampling call (default 16)"),
        ):
            p.add_argument(flag, type=_positive_int, help=help_text)
    if name == "floor":
        p.add_argument("--matmul-size", type=_positive_int, help="n of the n x n matmul")
        p.add_argument("--count-frames", type=_positive_int, help="mel frames to count FLOPs on")
        p.add_argument("--count-segment", type=_positive_int, help="train segment to count on")


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fill unset options with the normal or ``--quick`` defaults and parse ``--seconds``."""
    defaults = COMMON | DEFAULTS[args.command]
    if args.quick:
        defaults |= COMMON_QUICK | QUICK[args.command]
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.command == "versus" and str(args.seconds).strip() in ("0", "0.0"):
        args.seconds = [0.0]  # versus: no synthesis case
    if hasattr(args, "seconds"):
        args.seconds = _durations(args.seconds)
    if args.command == "memory":
        args.modes = [m.strip() for m in str(args.modes).split(",") if m.strip()]
        if not args.modes or any(m not in ("stream", "offline") for m in args.modes):
            raise WaveflowError(f"--modes: expected stream and/or offline, got {args.modes!r}")
    if args.command == "versus":
        if len(args.seconds) != 1:
            raise WaveflowError("versus --seconds: give one duration")
        args.seconds = args.seconds[0]
        args.dtypes = _dtypes(args.dtypes)
    return args


def _dtypes(text: str | list[str]) -> list[str]:
    values = text if isinstance(text, list) else [v.strip() for v in text.split(",") if v.strip()]
    if not values or any(v not in ("fp32", "bf16", "fp16") for v in values):
        raise WaveflowError(
            f"--dtypes: expected a comma-separated subset of fp32,bf16,fp16, got {text!r}"
        )
    return values


def _durations(text: str | list[float]) -> list[float]:
    if isinstance(text, list):
        return text
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise WaveflowError(f"--seconds: expected comma-separated numbers, got {text!r}") from err
    if not values or any(not v > 0 for v in values):
        raise WaveflowError(f"--seconds: durations must be positive numbers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run one command; print its table; write ``--json``. Errors: one line, exit status 1."""
    args = build_parser().parse_args(argv)
    return run_reporting_errors(f"benchmark.py {args.command}", lambda: run(args))


def run(args: argparse.Namespace) -> int:
    opts = resolve(args)
    section, table = COMMANDS[opts.command](opts)
    if opts.json is not None:
        write_section(opts.json, opts.command, section)
    machine = section["machine"]
    print(
        f"# {opts.command} on {machine['device_name']}, {machine['cpu_cores']} cores, "
        f"{opts.threads or machine['torch_threads']} torch threads, "
        f"torch {machine['torch_version']}, "
        f"{opts.dtype}, {machine['date']}"
    )
    print(table)
    if opts.json is not None:
        print(f"# wrote {opts.json} [{opts.command}]")
    return 0
