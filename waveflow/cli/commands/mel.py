"""`waveflow mel`: audio files or folders -> Tacotron2-compatible log-mel files.

Each input `X.wav` / `X.flac` gives `OUT/X.npy` (float32 [n_mels, frames], as Tacotron2 and
NVIDIA's WaveGlow inference read) and/or `OUT/X.pt` (a torch tensor of the same values).
The front end is a named --preset (22k: Tacotron2, the default; 16k and 24k: ESPnet2's), each
of whose values an option below can override.
A bad file prints one error line naming it; the others are still processed; the exit code is
1 if any file failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from waveflow.audio.data.mel_presets import MEL_PRESETS
from waveflow.cli.argtypes import nonnegative_float, positive_int
from waveflow.cli.outputs import add_overwrite_option

#: MelConfig fields settable one by one (argparse leaves out the ones not given).
FRONT_END_KEYS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")


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
    parser.add_argument(
        "--preset",
        choices=list(MEL_PRESETS),
        default="22k",
        help="named front end: 22k (Tacotron2, default), 16k (ESPnet2), 24k (ESPnet2 LibriTTS); "
        "the options below override its values",
    )
    keys = parser.add_argument_group("front-end values (default: the preset's)")
    keys.add_argument("--sample-rate", type=positive_int, default=argparse.SUPPRESS)
    keys.add_argument("--n-fft", type=positive_int, default=argparse.SUPPRESS)
    keys.add_argument("--hop-length", type=positive_int, default=argparse.SUPPRESS)
    keys.add_argument("--win-length", type=positive_int, default=argparse.SUPPRESS)
    keys.add_argument("--n-mels", type=positive_int, default=argparse.SUPPRESS)
    keys.add_argument("--fmin", type=nonnegative_float, default=argparse.SUPPRESS)
    keys.add_argument(
        "--fmax",
        type=_optional_float,
        default=argparse.SUPPRESS,
        help="upper mel band edge in Hz, or 'none' for Nyquist",
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

    given = {key: getattr(args, key) for key in FRONT_END_KEYS if hasattr(args, key)}
    config = MelConfig.from_dict({"preset": args.preset, **given})
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
