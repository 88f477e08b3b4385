"""`waveflow mel`: audio files or folders -> Tacotron2-compatible log-mel files.

Each input `X.wav` / `X.flac` gives `OUT/X.npy` (float32 [n_mels, frames], as Tacotron2 and
NVIDIA's WaveGlow inference read) and/or `OUT/X.pt` (a torch tensor of the same values).
A bad file prints one error line naming it; the others are still processed; the exit code is
1 if any file failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from waveflow.cli.argtypes import nonnegative_float, positive_int
from waveflow.cli.outputs import add_overwrite_option


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mel",
        help="compute log-mel spectrograms (Tacotron2/WaveGlow compatible) from audio files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="IN",
        help="audio files (.wav, .flac) or folders containing them",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder (created if missing)"
    )
    parser.add_argument("--sample-rate", type=positive_int, default=22050)
    parser.add_argument("--n-fft", type=positive_int, default=1024)
    parser.add_argument("--hop-length", type=positive_int, default=256)
    parser.add_argument("--win-length", type=positive_int, default=1024)
    parser.add_argument("--n-mels", type=positive_int, default=80)
    parser.add_argument("--fmin", type=nonnegative_float, default=0.0)
    parser.add_argument(
        "--fmax",
        type=_optional_float,
        default=8000.0,
        help="upper mel band edge in Hz, or 'none' for Nyquist (default 8000)",
    )
    parser.add_argument(
        "--resample",
        action="store_true",
        help="resample files at another rate instead of failing on them",
    )
    parser.add_argument(
        "--downmix",
        action="store_true",
        help="average multichannel files to mono instead of failing on them",
    )
    parser.add_argument("--format", choices=("npy", "pt", "both"), default="npy")
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else nonnegative_float(text)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from waveflow.atomic import atomic_path
    from waveflow.audio.data.features import MelConfig, MelSpectrogram
    from waveflow.audio.data.io import collect_files, load_audio
    from waveflow.cli.outputs import check_outputs
    from waveflow.errors import WaveflowError, about

    config = MelConfig(
        sample_rate=args.sample_rate,
        n_fft=args.n_fft,
        hop_length=args.hop_length,
        win_length=args.win_length,
        n_mels=args.n_mels,
        fmin=args.fmin,
        fmax=args.fmax,
    )
    files, errors = collect_files(args.inputs)
    stems: dict[str, Path] = {}
    for file in files:
        if file.stem in stems:
            raise WaveflowError(
                f"{file} and {stems[file.stem]} would both be written as {file.stem}; "
                "rename one of them"
            )
        stems[file.stem] = file
    for message in errors:
        print(f"waveflow mel: error: {message}", file=sys.stderr)
    suffixes = {"npy": [".npy"], "pt": [".pt"], "both": [".npy", ".pt"]}[args.format]
    outputs = {file: [args.out / f"{file.stem}{suffix}" for suffix in suffixes] for file in files}
    check = check_outputs([path for paths in outputs.values() for path in paths], args.no_overwrite)
    mel = MelSpectrogram(config)
    failed, written = len(errors), 0
    with torch.inference_mode():
        for file in tqdm(files, desc="mel", unit="file", file=sys.stderr):
            try:
                blocked = [check.blocked[path] for path in outputs[file] if path in check.blocked]
                if blocked:
                    raise WaveflowError(f"{file}: not written: {'; '.join(blocked)}")
                features = mel(
                    load_audio(
                        file, config.sample_rate, resample=args.resample, downmix=args.downmix
                    )
                )
                for path in outputs[file]:
                    with atomic_path(path) as tmp:
                        if path.suffix == ".npy":
                            np.save(tmp, features.numpy())
                        else:
                            torch.save(features.clone(), tmp)
            except WaveflowError as err:
                tqdm.write(f"waveflow mel: error: {about(file, err)}", file=sys.stderr)
                failed += 1
                continue
            written += 1
    replaced = f"; replaced {len(check.replacing)} existing file(s)" if check.replacing else ""
    print(
        f"wrote {written} mel file(s) to {args.out}; {failed} failed{replaced}", file=sys.stderr
    )
    return 1 if failed else 0
