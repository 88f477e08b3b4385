"""Sampling grids at several temperatures (Glow's reduced-temperature sampling)."""

from __future__ import annotations

import torch
from torch import Tensor

from waveflow.image.glow import Glow
from waveflow.image.pixels import to_unit_range

DEFAULT_TEMPERATURES = (0.0, 0.5, 0.7, 1.0)


def sample_labels(model: Glow, n: int, label: int | None) -> Tensor | None:
    """Labels for ``n`` samples: ``label`` for all, else classes in turn (conditional models),
    else None."""
    if model.n_classes is None:
        return None
    if label is not None:
        return torch.full((n,), label, dtype=torch.long)
    return torch.arange(n) % model.n_classes


@torch.no_grad()
def temperature_samples(
    model: Glow,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
    n: int = 64,
    label: int | None = None,
    seed: int = 0,
) -> dict[float, Tensor]:
    """``{temperature: images [n, C, H, W] in [0, 1]}``; every temperature scales the same
    noise (one seed), so the grids show one set of samples getting more diverse."""
    labels = sample_labels(model, n, label)
    out = {}
    for temperature in temperatures:
        generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
        x = model.sample(n, temperature, y=labels, generator=generator)
        out[temperature] = to_unit_range(x, model.n_bits).cpu()
    return out
