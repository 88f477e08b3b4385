"""`waveflow convert`: an NVIDIA WaveGlow checkpoint -> a native waveflow checkpoint.

The output `{"task": "waveglow", "config": {"model": {...}}, "model": state_dict}` loads with
`torch.load(OUT, weights_only=True)` and `waveflow.checkpoint.load_model`; it is written
atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from waveflow.cli.argtypes import positive_int
from waveflow.cli.outputs import add_overwrite_option


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an NVIDIA WaveGlow checkpoint to the native format",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", type=Path, metavar="NVIDIA_CKPT")
    parser.add_argument("out", type=Path, metavar="OUT")
    parser.add_argument(
        "--hop-length",
        type=positive_int,
        default=None,
        help="override the hop (default: stored, else 256)",
    )
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from dataclasses import asdict

    from waveflow.audio.formats.vocoder_file import open_vocoder_file
    from waveflow.checkpoint import save_checkpoint
    from waveflow.cli.outputs import check_outputs
    from waveflow.errors import WaveflowError

    model = open_vocoder_file(args.source, hop_length=args.hop_length)
    if isinstance(model, dict):
        raise WaveflowError(
            f"{args.source} is already a native waveflow checkpoint (task {model['task']!r}); "
            "there is nothing to convert: use it directly"
        )
    check = check_outputs([args.out], args.no_overwrite)
    if check.blocked:
        raise WaveflowError(check.blocked[args.out])
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_checkpoint(
        {"task": "waveglow", "config": {"model": asdict(model.config)}, "model": state}, args.out
    )
    replaced = " (replaced the existing file)" if check.replacing else ""
    print(f"waveflow convert: wrote {args.out}{replaced} ({asdict(model.config)})", file=sys.stderr)
    return 0
