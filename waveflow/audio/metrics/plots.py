"""Figures for listening-free inspection of vocoder output (matplotlib, Agg backend)."""

from __future__ import annotations

import os

import numpy as np
import torch

from waveflow.atomic import atomic_path
from waveflow.audio.metrics.optional import import_optional
from waveflow.errors import WaveflowError


def _as_mel(mel: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    array = mel.detach().cpu().numpy() if isinstance(mel, torch.Tensor) else np.asarray(mel)
    if array.ndim != 2 or 0 in array.shape:
        raise WaveflowError(
            f"{name} mel must be a non-empty [n_mels, frames] array, got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise WaveflowError(f"{name} mel contains NaN or infinite values")
    return array.astype(np.float64)


def plot_mel_comparison(
    ref_mel: torch.Tensor | np.ndarray,
    gen_mel: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    title: str = "",
) -> None:
    """Write one PNG: reference log-mel, generated log-mel and their difference (gen - ref).

    Mels are [n_mels, frames] (natural log, as from `MelSpectrogram`); if the frame counts
    differ both are cut to the shorter. Reference and generated share one colour scale; the
    difference uses a symmetric diverging scale. The file is written atomically (parent
    directories are created). Needs matplotlib (the `eval` extra).
    """
    ref, gen = _as_mel(ref_mel, "reference"), _as_mel(gen_mel, "generated")
    if ref.shape[0] != gen.shape[0]:
        raise WaveflowError(
            f"mel comparison: reference has {ref.shape[0]} mel bins, generated {gen.shape[0]}"
        )
    frames = min(ref.shape[1], gen.shape[1])
    ref, gen = ref[:, :frames], gen[:, :frames]
    difference = gen - ref
    import_optional("matplotlib", purpose="plotting")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 8), constrained_layout=True)
    FigureCanvasAgg(figure)
    axes = figure.subplots(3, 1, sharex=True)
    low, high = min(ref.min(), gen.min()), max(ref.max(), gen.max())
    limit = max(float(np.abs(difference).max()), 1e-6)
    panels = (
        ("reference", ref, "magma", low, high),
        ("generated", gen, "magma", low, high),
        ("generated - reference", difference, "RdBu_r", -limit, limit),
    )
    for axis, (label, image, cmap, vmin, vmax) in zip(axes, panels, strict=True):
        shown = axis.imshow(
            image,
            origin="lower",
            aspect="auto",
            interpolation="none",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
        )
        axis.set_title(label)
        axis.set_ylabel("mel bin")
        figure.colorbar(shown, ax=axis, label="log magnitude")
    axes[-1].set_xlabel("frame")
    if title:
        figure.suptitle(title)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def plot_file_comparison(
    ref_path: str | os.PathLike[str],
    gen_path: str | os.PathLike[str],
    path: str | os.PathLike[str],
    sample_rate: int,
    title: str = "",
) -> None:
    """`plot_mel_comparison` of two audio files (mono at `sample_rate`), through the log-mel
    front end of the metrics (`metrics_front_end`)."""
    from waveflow.audio.data.io import load_audio
    from waveflow.audio.metrics.spectral import metrics_front_end

    front_end = metrics_front_end(sample_rate)
    with torch.no_grad():
        ref_mel = front_end(load_audio(ref_path, sample_rate))
        gen_mel = front_end(load_audio(gen_path, sample_rate))
    plot_mel_comparison(ref_mel, gen_mel, path, title=title)
