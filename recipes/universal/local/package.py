"""Last stage of the universal-vocoder recipe: put a trained WaveGlow into the package.

    python local/package.py --checkpoint EXP/best.pt --weights-dir waveflow/audio/formats/weights
                            [--dtype auto|fp16|fp32] [--ref DIR] [--min-snr-db 30]

Writes `WEIGHTS_DIR/universal.pt` (the checkpoint stripped to {task, config: {model, data:
{mel}}, model}, EMA weights if it has them) and `universal.sha256`, via
`waveflow.audio.formats.pretrained.package_vocoder`, and refuses a file over 25 MB.

--dtype auto stores fp16 weights (half the size) only if that does not hurt: the synthesis of
the first 3 clips of --ref with the fp16-rounded weights, computed in fp32 from the same
latents as with the fp32 weights, must stay within --min-snr-db of it (signal-to-difference
ratio, dB); otherwise the weights stay fp32. The comparison is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--weights-dir", type=Path, required=True)
    parser.add_argument("--dtype", choices=("auto", "fp16", "fp32"), default="auto")
    parser.add_argument("--ref", type=Path, help="test clips for --dtype auto")
    parser.add_argument("--min-snr-db", type=float, default=30.0)
    parser.add_argument("--sigma", type=float, default=0.6)
    return parser.parse_args(argv)


def fp16_snr_db(checkpoint: Path, ref: Path, sigma: float) -> float:
    """Lowest signal-to-difference ratio (dB) between syntheses with fp32 and fp16-rounded
    weights over the first 3 clips of `ref` (same latents)."""
    import torch

    from waveflow.audio.data.features import MelSpectrogram
    from waveflow.audio.data.io import collect_files, load_audio
    from waveflow.audio.formats.pretrained import stripped_vocoder
    from waveflow.audio.formats.vocoder_file import vocoder_from_checkpoint
    from waveflow.checkpoint import load_checkpoint
    from waveflow.errors import WaveflowError

    files, errors = collect_files([ref])
    if errors:
        raise WaveflowError("; ".join(errors))
    ckpt = load_checkpoint(checkpoint)
    cpu = torch.device("cpu")
    full, mel_config = vocoder_from_checkpoint(stripped_vocoder(ckpt), checkpoint, cpu)
    half, _ = vocoder_from_checkpoint(stripped_vocoder(ckpt, half=True), checkpoint, cpu)
    front_end = MelSpectrogram(mel_config)
    worst = float("inf")
    with torch.no_grad():
        for file in files[:3]:
            mel = front_end(load_audio(file, mel_config.sample_rate))[None]
            a = full.infer(mel, sigma, generator=torch.Generator().manual_seed(0))
            b = half.infer(mel, sigma, generator=torch.Generator().manual_seed(0))
            ratio = a.pow(2).sum() / (a - b).pow(2).sum().clamp_min(1e-20)
            worst = min(worst, 10 * float(torch.log10(ratio)))
    return worst


def package(args: argparse.Namespace) -> int:
    from waveflow.audio.formats.pretrained import MAX_BYTES, package_vocoder
    from waveflow.errors import WaveflowError

    half = args.dtype == "fp16"
    if args.dtype == "auto":
        if args.ref is None:
            raise WaveflowError("--dtype auto needs --ref DIR (test clips)")
        snr = fp16_snr_db(args.checkpoint, args.ref, args.sigma)
        half = snr >= args.min_snr_db
        print(
            f"package: fp16 weights change the synthesis by {snr:.1f} dB SNR (threshold "
            f"{args.min_snr_db:.0f} dB): storing {'fp16' if half else 'fp32'}"
        )
    target = package_vocoder(args.checkpoint, args.weights_dir, half=half)
    size = target.stat().st_size
    if size > MAX_BYTES:
        target.unlink()
        target.with_name("universal.sha256").unlink()
        raise WaveflowError(
            f"{args.checkpoint} packs into {size / 1e6:.1f} MB, over the 25 MB limit of "
            "package data: train a smaller model (or use --dtype fp16)"
        )
    digest = target.with_name("universal.sha256").read_text().split()[0]
    print(f"package: wrote {target} ({size / 1e6:.1f} MB, sha256 {digest})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from waveflow.reporting import run_reporting_errors

    args = parse_args(argv)
    return run_reporting_errors("package.py", lambda: package(args))


if __name__ == "__main__":
    sys.exit(main())
