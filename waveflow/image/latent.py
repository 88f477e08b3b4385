"""Latent-space manipulation: interpolation between images and attribute arithmetic.

The attribute demo follows the Glow paper ("make a face smile"): the direction from class
``negative`` to class ``positive`` is the difference of their mean latents; adding
``strength * direction`` to an image's latent and decoding moves the image toward the
positive class (strength > 0) or away from it (strength < 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

from waveflow.errors import WaveflowError
from waveflow.image.glow import Glow
from waveflow.image.pixels import to_unit_range


def _labels(model: Glow, y: Tensor | None) -> Tensor | None:
    return y if model.n_classes is not None else None


@torch.no_grad()
def interpolate(
    model: Glow, x_a: Tensor, x_b: Tensor, steps: int = 9, y: Tensor | None = None
) -> Tensor:
    """Images ``[steps, C, H, W]`` in ``[0, 1]`` decoded from ``(1 - t) z_a + t z_b``, ``t``
    from 0 to 1 (the ends reconstruct ``x_a`` and ``x_b``). ``x_a``, ``x_b``: ``[C, H, W]``;
    ``y``: the pair's labels ``[2]`` for conditional models (decoding uses ``y[0]``)."""
    if steps < 2:
        raise WaveflowError(f"interpolate: steps must be >= 2, got {steps}")
    z = model.encode(torch.stack([x_a, x_b]), _labels(model, y))
    t = torch.linspace(0, 1, steps, dtype=z.dtype, device=z.device).view(-1, 1, 1, 1)
    path = (1 - t) * z[0] + t * z[1]
    labels = None if model.n_classes is None else y[0].expand(steps)
    return to_unit_range(model.decode(path, labels), model.n_bits).cpu()


@torch.no_grad()
def attribute_direction(
    model: Glow, images: Tensor, labels: Tensor, positive: int, negative: int
) -> Tensor:
    """Mean latent of the ``positive``-class images minus that of the ``negative`` ones,
    ``[C, H, W]``."""
    means = []
    for cls in (positive, negative):
        chosen = labels == cls
        if not chosen.any():
            raise WaveflowError(f"attribute_direction: no images of class {cls}")
        x = images[chosen]
        means.append(model.encode(x, _labels(model, labels[chosen])).mean(0))
    return means[0] - means[1]


@torch.no_grad()
def manipulate(
    model: Glow,
    images: Tensor,
    direction: Tensor,
    strengths: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0),
    labels: Tensor | None = None,
) -> Tensor:
    """For each image, decode ``z + s * direction`` for every strength ``s``: returns
    ``[N * len(strengths), C, H, W]`` in ``[0, 1]``, one row of strengths per image."""
    y = _labels(model, labels)
    z = model.encode(images, y)
    s = torch.tensor(strengths, dtype=z.dtype, device=z.device).view(1, -1, 1, 1, 1)
    moved = (z.unsqueeze(1) + s * direction).flatten(0, 1)
    y_moved = None if y is None else y.repeat_interleave(len(strengths))
    return to_unit_range(model.decode(moved, y_moved), model.n_bits).cpu()
