"""`waveflow export`: a WaveGlow checkpoint -> a TorchScript (.pt) or ONNX (.onnx) vocoder.

The exported model maps `mel [batch, n_mels, frames]` and a latent `z [batch, frames *
hop_length]` (draw `z = sigma * randn`, e.g. sigma 0.6) to `audio [batch, frames *
hop_length]`, float32 on the CPU, weight norm folded. It loads without waveflow:
`torch.jit.load(OUT)` or `onnxruntime.InferenceSession(OUT)` (inputs `mel`, `z`; output
`audio`). The number of frames is dynamic unless `--frames N` fixes it (ONNX only; a
TorchScript trace accepts any length). Each export is compared with eager synthesis before it
is written (atomically); ONNX needs `pip install 'waveflow[export]'` (onnx, onnxruntime).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from waveflow.audio.formats.export import DEFAULT_OPSET, FORMATS, MAX_OPSET, MIN_OPSET

    parser = subparsers.add_parser(
        "export",
        help="export a WaveGlow checkpoint's inference path to TorchScript or ONNX",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="output file (.pt or .onnx)")
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="native or NVIDIA WaveGlow checkpoint"
    )
    parser.add_argument("--format", choices=FORMATS, required=True, dest="fmt")
    parser.add_argument(
        "--frames", type=int, default=None, help="fix the number of mel frames (ONNX graph)"
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX opset, {MIN_OPSET}-{MAX_OPSET} (default {DEFAULT_OPSET})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    import torch

    from waveflow.atomic import atomic_write
    from waveflow.audio.formats.export import (
        VocoderInference,
        check_options,
        export_onnx,
        export_torchscript,
        metadata,
    )
    from waveflow.audio.formats.vocoder_file import load_vocoder
    from waveflow.audio.models.waveglow import WaveGlow
    from waveflow.errors import WaveflowError

    check_options(args.fmt, args.out, args.frames, args.opset)
    model, mel_config = load_vocoder(args.checkpoint, torch.device("cpu"))
    if not isinstance(model, WaveGlow):
        raise WaveflowError(
            f"{args.checkpoint} holds a {type(model).__name__} vocoder, not a WaveGlow: "
            "export supports WaveGlow checkpoints (a WaveFlow or an IAF student runs in eager "
            "PyTorch through waveflow synthesize)"
        )
    inference = VocoderInference(model)
    info = metadata(inference, args.frames, sample_rate=mel_config.sample_rate)
    if args.fmt == "onnx":
        data = export_onnx(inference, args.frames, args.opset, info | {"opset": args.opset})
    else:
        data = export_torchscript(inference, args.frames, info)
    atomic_write(args.out, lambda f: f.write(data))
    frames = "dynamic" if args.frames is None else str(args.frames)
    print(
        f"waveflow export: wrote {args.out} ({args.fmt}, {len(data) / 2**20:.1f} MiB, frames "
        f"{frames}, hop {inference.hop_length}, {inference.n_mel_channels} mels, "
        f"{mel_config.sample_rate} Hz; verified against eager synthesis)",
        file=sys.stderr,
    )
    return 0
