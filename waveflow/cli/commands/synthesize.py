"""`waveflow synthesize`: mel spectrograms (.npy/.pt, [n_mels, frames]) -> 16-bit WAVs.

Works with native waveflow checkpoints and NVIDIA WaveGlow checkpoints (auto-detected); without
--checkpoint the default vocoder shipped with waveflow is used (Tacotron2 front end: 22050 Hz,
hop 256, 80 mels; see waveflow.audio.formats.pretrained). Each
MEL `X.npy` gives `OUT/X.wav` with exactly frames * hop_length samples. A bad mel file prints
one error line naming it and the others are still synthesised; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from waveflow.cli.argtypes import nonnegative_float, positive_int
from waveflow.cli.outputs import add_overwrite_option


def add_common_synthesis_options(parser: argparse.ArgumentParser) -> None:
    """Options shared with `waveflow copy-synthesis`."""
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder (created)"
    )
    parser.add_argument(
        "--sigma", type=nonnegative_float, default=0.6, help="latent temperature (0.6)"
    )
    parser.add_argument(
        "--denoise",
        type=nonnegative_float,
        default=0.0,
        help="bias-removal strength, e.g. 0.1 (0: off)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    parser.add_argument("--batch-size", type=positive_int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chunk-samples",
        type=int,
        default=None,
        metavar="N",
        help="synthesise long mels in exact chunks of N samples (a multiple of the hop, at least "
        "the model's receptive field); memory stays flat in the length (default: 2048 frames)",
    )
    parser.add_argument(
        "--sample-rate",
        type=positive_int,
        default=None,
        help="sample rate in Hz; must match the model's (stored in its checkpoint; an NVIDIA "
        "file stores none: default 22050)",
    )
    add_overwrite_option(parser)


def load_model_or_default(args: argparse.Namespace, command: str) -> tuple:
    """``(model, mel front end)`` of ``--checkpoint``, else of the packaged default vocoder.

    The default is announced in one line on stderr; a ``--sample-rate`` other than the rate
    stored with the model is refused with both values (an NVIDIA file stores none: it is taken
    as given).
    """
    from waveflow.audio.formats.pretrained import load_default
    from waveflow.audio.formats.vocoder_file import SampleRateMismatch, load_vocoder
    from waveflow.device import resolve_device
    from waveflow.errors import WaveflowError

    device = resolve_device(args.device)
    try:
        if args.checkpoint is not None:
            return load_vocoder(args.checkpoint, device, args.sample_rate)
        model, mel_config = load_default(device, args.sample_rate)
    except SampleRateMismatch as err:
        raise WaveflowError(f"--sample-rate {args.sample_rate}: {err}") from err
    print(
        f"waveflow {command}: no --checkpoint given: using the default vocoder shipped with "
        f"waveflow ({mel_config.sample_rate} Hz, hop {mel_config.hop_length}, "
        f"{mel_config.n_mels} mels)",
        file=sys.stderr,
    )
    return model, mel_config


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="vocode mel spectrograms to audio with a WaveGlow checkpoint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "mels", nargs="+", type=Path, metavar="MEL", help=".npy/.pt files or folders"
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="native or NVIDIA checkpoint (default: the vocoder shipped with waveflow)",
    )
    add_common_synthesis_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from waveflow.audio.data.io import collect_files
    from waveflow.audio.synthesis.batch import (
        MEL_SUFFIXES,
        SynthesisJob,
        SynthesisSettings,
        log_mel_warning,
        read_mel,
        synthesis_chunk,
        synthesize_to_files,
    )
    from waveflow.device import DTYPES
    from waveflow.errors import WaveflowError

    model, mel_config = load_model_or_default(args, "synthesize")
    chunk = synthesis_chunk(model, args.chunk_samples)  # a bad --chunk-samples fails first
    files, errors = collect_files(args.mels, MEL_SUFFIXES)
    jobs = []
    for file in files:
        try:
            mel = read_mel(file, model.config.n_mel_channels)
        except WaveflowError as err:
            errors.append(str(err))
            continue
        warning = log_mel_warning(mel, str(file))
        if warning:
            print(f"waveflow synthesize: warning: {warning}", file=sys.stderr)
        jobs.append(SynthesisJob(str(file), mel, args.out / f"{file.stem}.wav"))
    _check_unique_outputs(jobs)
    jobs, replaced = apply_overwrite_policy(jobs, args.no_overwrite, errors)
    for message in errors:
        print(f"waveflow synthesize: error: {message}", file=sys.stderr)
    settings = SynthesisSettings(
        args.sigma,
        args.denoise,
        DTYPES[args.dtype],
        args.batch_size,
        args.seed,
        chunk,
    )
    rate = mel_config.sample_rate if args.sample_rate is None else args.sample_rate
    failed = synthesize_to_files(model, jobs, rate, settings, "synthesize")
    if replaced:
        print(f"waveflow synthesize: replaced {replaced} existing file(s)", file=sys.stderr)
    return 1 if failed or errors else 0


def apply_overwrite_policy(jobs: list, no_overwrite: bool, errors: list[str]) -> tuple[list, int]:
    """Drop the jobs whose output may not be written (their reasons go to `errors`);
    returns (jobs to run, number of existing files they replace)."""
    from waveflow.cli.outputs import check_outputs

    check = check_outputs([job.out for job in jobs], no_overwrite)
    errors.extend(check.blocked.values())
    return [job for job in jobs if job.out not in check.blocked], len(check.replacing)


def _check_unique_outputs(jobs: list) -> None:
    from waveflow.errors import WaveflowError

    seen: dict = {}
    for job in jobs:
        if job.out in seen:
            raise WaveflowError(
                f"{job.name} and {seen[job.out]} would both be written as {job.out}"
            )
        seen[job.out] = job.name
