"""The LJSpeech recipe's stage-4 summary table (see local/recipe_summary.py).

    python recipes/ljspeech/local/summary.py --checkpoint CKPT --ref DIR --mels DIR --gen DIR
                                             [--baseline DIR] [--sigma 0.6] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="summary.py",
        description="Held-out NLL, copy-synthesis log-mel distance and synthesis speed.",
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="waveflow checkpoint")
    parser.add_argument("--ref", type=Path, required=True, metavar="DIR", help="test recordings")
    parser.add_argument("--mels", type=Path, required=True, metavar="DIR", help="their mels")
    parser.add_argument("--gen", type=Path, required=True, metavar="DIR", help="model audio")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="baseline audio")
    parser.add_argument("--sigma", type=float, default=0.6, help="synthesis sigma (0.6)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (auto)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the summary as JSON")
    return parser.parse_args(argv)


def summarize(args: argparse.Namespace) -> int:
    from recipe_summary import format_summary, recipe_summary, write_summary_json

    from waveflow.device import resolve_device

    summary = recipe_summary(
        args.checkpoint,
        args.ref,
        args.mels,
        args.gen,
        args.baseline,
        sigma=args.sigma,
        device=resolve_device(args.device),
    )
    if args.json is not None:
        write_summary_json(summary, args.json)
    print(format_summary(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    from waveflow.reporting import run_reporting_errors

    args = parse_args(argv)
    return run_reporting_errors("summary.py", lambda: summarize(args))


if __name__ == "__main__":
    sys.exit(main())
