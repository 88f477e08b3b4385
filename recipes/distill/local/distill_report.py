"""The distillation recipe's summary: student vs teacher speed and objective metrics.

    python local/distill_report.py --teacher CKPT --student CKPT --ref DIR --mels DIR
                                            --teacher-gen DIR --student-gen DIR
                                            [--sigma 0.6] [--repeats 3] [--device cpu]
                                            [--json OUT]

- `--ref`, `--mels`: the held-out recordings and their cached log-mels (same ids);
- `--teacher-gen`, `--student-gen`: audio synthesized from those mels by each model.

Reported for both models, measured in the same run on `--device` (weight norm folded, fp32):
synthesis speed in x real time (seconds of audio per second of compute over all test mels,
after one warm-up call; the best of `--repeats` passes, alternating the two models so that a
busy machine slows both alike; the student's speed-up is its speed over the teacher's),
log-mel L1 distance of the synthesis to the recording, and the teacher's exact NLL
(bits/sample, conditioned on the test mels) of the recordings and of each model's
synthesis: the distillation's cross-entropy, on whole held-out clips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from waveflow.errors import WaveflowError

# The LJSpeech recipe's summary helpers (this recipe's teacher is that recipe's model).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ljspeech" / "local"))
from recipe_summary import (  # noqa: E402
    mel_distance,
    paired_test_files,
    times_real_time,
    write_summary_json,
)


def distill_report(args: argparse.Namespace) -> dict[str, Any]:
    """Compute the summary described in the module docstring as a JSON-ready dict."""
    from waveflow.audio.formats.vocoder_file import load_vocoder
    from waveflow.audio.models.student import IAFStudent
    from waveflow.audio.models.waveglow import WaveGlow
    from waveflow.audio.tasks.likelihood import held_out_nll

    if args.repeats < 1:
        raise WaveflowError(f"--repeats must be >= 1, got {args.repeats}")
    device = torch.device(args.device)
    teacher, mel_config = load_vocoder(args.teacher, device)
    student, student_mel = load_vocoder(args.student, device)
    if not isinstance(teacher, WaveGlow):
        raise WaveflowError(f"--teacher {args.teacher} is not a WaveGlow checkpoint")
    if not isinstance(student, IAFStudent):
        raise WaveflowError(f"--student {args.student} is not an IAF student (task: distill)")
    if student_mel != mel_config:
        raise WaveflowError(f"--student {args.student} uses another mel front end than its teacher")
    teacher.remove_weight_norm()
    student.remove_weight_norm()
    pairs = paired_test_files(args.ref, args.mels)
    mels = [torch.from_numpy(np.load(mel)).float() for _, mel in pairs]
    rate = mel_config.sample_rate
    speed = {"teacher": 0.0, "student": 0.0}
    for _ in range(args.repeats):  # alternate the models; the fastest pass of each counts
        for name, model in (("teacher", teacher), ("student", student)):
            speed[name] = max(speed[name], times_real_time(model, mels, rate, args.sigma, device))

    def teacher_nll(folder: Path | None) -> float:
        """Teacher NLL of the recordings (None) or of the WAVs of ``folder`` (same ids)."""
        files = [ref if folder is None else folder / f"{ref.stem}.wav" for ref, _ in pairs]
        nll = held_out_nll(teacher, files, mel_config, 1.0, device, mel_dir=args.mels)
        return nll["bits_per_sample"]

    return {
        "teacher": str(args.teacher),
        "student": str(args.student),
        "device": str(device),
        "sigma": args.sigma,
        "test_utterances": len(pairs),
        "teacher_params": sum(p.numel() for p in teacher.parameters()),
        "student_params": sum(p.numel() for p in student.parameters()),
        "teacher_x_real_time": speed["teacher"],
        "student_x_real_time": speed["student"],
        "student_speedup": speed["student"] / speed["teacher"],
        "teacher_mel_l1": mel_distance(args.ref, args.teacher_gen, rate),
        "student_mel_l1": mel_distance(args.ref, args.student_gen, rate),
        "teacher_nll_of_recordings": teacher_nll(None),
        "teacher_nll_of_teacher_audio": teacher_nll(args.teacher_gen),
        "teacher_nll_of_student_audio": teacher_nll(args.student_gen),
    }


def format_report(summary: dict[str, Any]) -> str:
    """A Markdown table: one row per metric, one column per model."""
    speed_t, speed_s = summary["teacher_x_real_time"], summary["student_x_real_time"]
    rows = [
        ("parameters", f"{summary['teacher_params']:,}", f"{summary['student_params']:,}"),
        (
            f"synthesis speed, {summary['device']} (x real time)",
            f"{speed_t:.3f}",
            f"{speed_s:.3f} ({summary['student_speedup']:.2f}x the teacher's speed)",
        ),
        (
            f"log-mel L1 to the recordings (sigma {summary['sigma']})",
            f"{summary['teacher_mel_l1']:.3f}",
            f"{summary['student_mel_l1']:.3f}",
        ),
        (
            "teacher NLL of the synthesis, bits/sample",
            f"{summary['teacher_nll_of_teacher_audio']:.3f}",
            f"{summary['teacher_nll_of_student_audio']:.3f}",
        ),
        (
            "teacher NLL of the recordings, bits/sample",
            f"{summary['teacher_nll_of_recordings']:.3f}",
            "",
        ),
    ]
    header = ("metric", "teacher (WaveGlow)", "student (IAF)")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="distill_report.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--teacher", type=Path, required=True, help="WaveGlow checkpoint")
    parser.add_argument("--student", type=Path, required=True, help="task: distill checkpoint")
    parser.add_argument("--ref", type=Path, required=True, metavar="DIR", help="test recordings")
    parser.add_argument("--mels", type=Path, required=True, metavar="DIR", help="their mels")
    parser.add_argument("--teacher-gen", type=Path, required=True, metavar="DIR")
    parser.add_argument("--student-gen", type=Path, required=True, metavar="DIR")
    parser.add_argument("--sigma", type=float, default=0.6, help="synthesis sigma (0.6)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per model (3)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the summary as JSON")
    return parser.parse_args(argv)


def report(args: argparse.Namespace) -> int:
    summary = distill_report(args)
    if args.json is not None:
        write_summary_json(summary, args.json)
    print(format_report(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    from waveflow.reporting import run_reporting_errors

    args = parse_args(argv)
    return run_reporting_errors("distill_report.py", lambda: report(args))


if __name__ == "__main__":
    sys.exit(main())
