"""How well can noise with the TRUE spectrum of a recording score? (issue 9 analysis)

    PYTHONPATH=. python tools/noise_oracles.py WAV_DIR [--sample-rate 22050]

For every recording in WAV_DIR, four kinds of random noise with an oracle magnitude, scored
against the recording with the library's log-mel L1 and STOI (means over the files):

* ``dct G``: each non-overlapping G-sample column's orthonormal DCT-II coefficients with random
  Gaussian signs/sizes scaled by the true coefficient magnitude (the best a frame-wise Gaussian
  over such columns can do, e.g. WaveGlow with ``n_group: G`` and a DCT-initialised first conv);
* ``mdct G``: the same with the MDCT (sine window of 2G samples at hop G: ``LappedFold`` and
  the DCT-IV of each reversed block, what WaveGlow with ``lapped: true`` and ``conv_init: dct``
  starts from); ``mdct G sign``: the true MDCT magnitudes with random signs only (no Gaussian
  spread of the magnitudes: what a model that knew every coefficient's size would give);
* ``stft N/H``: the true STFT magnitude with uniformly random phase, resynthesised by
  overlap-add (Hann window of N samples at hop H; rectangular when N == H).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from waveflow.audio.data.io import collect_files, load_audio
from waveflow.audio.metrics.pair import evaluate_pair
from waveflow.audio.models.waveglow import first_conv_start
from waveflow.bijectors import Chain, LappedFold


def column_noise(
    x: torch.Tensor, group: int, gen: torch.Generator, lapped: bool, signs_only: bool = False
) -> torch.Tensor:
    """Noise with the true magnitudes of the spectra that WaveGlow's DCT-initialised flow 0
    starts from: DCT-II of G-sample columns, or (``lapped``) the MDCT through ``LappedFold``."""
    n = len(x) // group * group
    fold = LappedFold(group) if lapped else Chain()  # Chain(): the identity
    basis = first_conv_start(group, lapped).float()
    columns = fold(x[None, None, :n])[0].reshape(-1, group)
    spectrum = columns @ basis.T
    draw = torch.randn(spectrum.shape, generator=gen)
    noise = spectrum.abs() * (draw.sign() if signs_only else draw)
    audio = fold.inverse((noise @ basis).reshape(1, 1, -1))[0].reshape(-1)
    return torch.cat([audio, torch.zeros(len(x) - n)])


def stft_noise(x: torch.Tensor, n_fft: int, hop: int, gen: torch.Generator) -> torch.Tensor:
    window = torch.hann_window(n_fft) if hop < n_fft else torch.ones(n_fft)
    spec = torch.stft(x, n_fft, hop, window=window, return_complex=True)
    phase = torch.exp(2j * torch.pi * torch.rand(spec.shape, generator=gen))
    return torch.istft(spec.abs() * phase, n_fft, hop, window=window, length=len(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav_dir", type=Path)
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args()
    kinds = {
        "dct 256": lambda x, g: column_noise(x, 256, g, lapped=False),
        "dct 128": lambda x, g: column_noise(x, 128, g, lapped=False),
        "mdct 256": lambda x, g: column_noise(x, 256, g, lapped=True),
        "mdct 256 sign": lambda x, g: column_noise(x, 256, g, lapped=True, signs_only=True),
        "stft 256/256": lambda x, g: stft_noise(x, 256, 256, g),
        "stft 512/256": lambda x, g: stft_noise(x, 512, 256, g),
        "stft 1024/256": lambda x, g: stft_noise(x, 1024, 256, g),
    }
    scores: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    files, errors = collect_files([args.wav_dir])
    if errors:
        raise SystemExit(f"noise_oracles.py: error: {errors[0]}")
    for path in files:
        x = load_audio(path, args.sample_rate)
        for kind, make in kinds.items():
            noise = make(x, torch.Generator().manual_seed(0))
            scores[kind].append(
                evaluate_pair(x.numpy(), noise.numpy(), args.sample_rate, ["mel", "stoi"])
            )
    for kind, rows in scores.items():
        means = {key: float(np.mean([r[key] for r in rows])) for key in ("mel_l1", "stoi")}
        print(f"{kind:14s} log-mel L1 {means['mel_l1']:.3f}  STOI {means['stoi']:.3f}")


if __name__ == "__main__":
    main()
