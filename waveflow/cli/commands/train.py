"""`waveflow train`: train a model from a YAML config (README section "Training")."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a flow model from a YAML config",
        description=(
            "Train a flow model (WaveGlow, Glow, ...) from a YAML config with sections task, "
            "model, data and train. KEY=VALUE arguments override config entries, e.g. "
            "train.lr=2e-4 data.segment_length=8000. Run under torchrun for multiple GPUs."
        ),
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="YAML config file")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides (YAML values)"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="PATH",
        help="continue from PATH, or (without PATH) from the latest checkpoint in exp_dir",
    )
    parser.add_argument("--exp-dir", metavar="DIR", help="experiment directory (train.exp_dir)")
    parser.add_argument(
        "--dtype", choices=["fp32", "bf16", "fp16"], help="training precision (train.dtype)"
    )
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], help="training device (train.device)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import os

    from waveflow.train.config import load_config
    from waveflow.train.engine import train

    overrides = list(args.overrides)
    resume = args.resume
    if resume is not None and "=" in resume and not os.path.exists(resume):
        # `--resume train.lr=1e-4`: argparse took an override for the optional PATH.
        overrides.insert(0, resume)
        resume = "auto"
    config = load_config(args.config, overrides)
    flags = {"exp_dir": args.exp_dir, "dtype": args.dtype, "device": args.device}
    flags = {key: value for key, value in flags.items() if value is not None}
    config.train = dataclasses.replace(config.train, **flags)
    train(config, resume=resume)
    return 0
