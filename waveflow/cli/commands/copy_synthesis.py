"""`waveflow copy-synthesis`: audio -> log-mel -> audio, to hear what the vocoder does.

Each WAV/FLAC `X` gives `OUT/X.wav` of the input's length. With `--checkpoint` the mel is
vocoded by WaveGlow (native or NVIDIA checkpoint); with `--griffin-lim` the Griffin-Lim
baseline is used; with neither, the default vocoder shipped with waveflow. The mel front end
follows the model (its mel channel count and hop length, Tacotron2 defaults otherwise).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from waveflow.cli.commands.synthesize import (
    add_common_synthesis_options,
    apply_overwrite_policy,
    load_model_or_default,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "copy-synthesis",
        help="re-synthesise audio files through their mel spectrogram (WaveGlow or Griffin-Lim)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("wavs", nargs="+", type=Path, metavar="WAV", help="audio files or folders")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="native or NVIDIA WaveGlow checkpoint (default: the vocoder shipped with waveflow)",
    )
    parser.add_argument(
        "--griffin-lim", action="store_true", help="use Griffin-Lim instead of a checkpoint"
    )
    parser.add_argument("--resample", action="store_true", help="resample inputs at other rates")
    add_common_synthesis_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import torch

    from waveflow.audio.data.features import MelConfig, MelSpectrogram
    from waveflow.audio.data.io import collect_files, load_audio, save_wav
    from waveflow.audio.synthesis.batch import (
        SynthesisJob,
        SynthesisSettings,
        synthesis_chunk,
        synthesize_to_files,
    )
    from waveflow.device import DTYPES
    from waveflow.errors import WaveflowError, about

    if args.griffin_lim and args.checkpoint is not None:
        raise WaveflowError("give at most one of --checkpoint CKPT and --griffin-lim")
    model = None
    mel_config = MelConfig()
    chunk = None
    if not args.griffin_lim:
        model, mel_config = load_model_or_default(args, "copy-synthesis")
        chunk = synthesis_chunk(model, args.chunk_samples)  # a bad --chunk-samples fails first
    if args.griffin_lim and args.sample_rate is not None:  # a model's rate is its own
        mel_config = replace(
            mel_config,
            sample_rate=args.sample_rate,
            fmax=min(mel_config.fmax or args.sample_rate / 2, args.sample_rate / 2),
        )
    front_end = MelSpectrogram(mel_config)
    files, errors = collect_files(args.wavs)
    jobs = []
    for file in files:
        try:
            audio = load_audio(file, mel_config.sample_rate, resample=args.resample, downmix=True)
            with torch.no_grad():
                mel = front_end(audio)
        except WaveflowError as err:
            errors.append(about(file, err))
            continue
        jobs.append(SynthesisJob(str(file), mel, args.out / f"{file.stem}.wav", len(audio)))
    jobs, replaced = apply_overwrite_policy(jobs, args.no_overwrite, errors)
    for message in errors:
        print(f"waveflow copy-synthesis: error: {message}", file=sys.stderr)
    if model is None:
        from waveflow.audio.synthesis.griffin_lim import griffin_lim

        failed = 0
        for job in jobs:
            audio = griffin_lim(job.mel, mel_config)[: job.length]
            try:
                save_wav(job.out, audio, mel_config.sample_rate)
            except WaveflowError as err:
                print(f"waveflow copy-synthesis: error: {err}", file=sys.stderr)
                failed += 1
        print(
            f"waveflow copy-synthesis: wrote {len(jobs) - failed} file(s) (Griffin-Lim)"
            + (f"; replaced {replaced} existing file(s)" if replaced else ""),
            file=sys.stderr,
        )
        return 1 if errors or failed else 0
    settings = SynthesisSettings(
        args.sigma, args.denoise, DTYPES[args.dtype], args.batch_size, args.seed, chunk
    )
    failed = synthesize_to_files(model, jobs, mel_config.sample_rate, settings, "copy-synthesis")
    if replaced:
        print(f"waveflow copy-synthesis: replaced {replaced} existing file(s)", file=sys.stderr)
    return 1 if failed or errors else 0
