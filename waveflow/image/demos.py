"""The demo grids shared by ``waveflow sample`` and TensorBoard: interpolations between
held-out images and attribute manipulation by latent arithmetic between two classes."""

from __future__ import annotations

import torch
from torch import Tensor

from waveflow.errors import WaveflowError
from waveflow.image.data import ImageDataset
from waveflow.image.glow import Glow
from waveflow.image.latent import attribute_direction, interpolate, manipulate
from waveflow.image.pixels import dequantize, reduce_bits

# Class pairs (positive, negative) whose difference is easy to see.
DEFAULT_ATTRIBUTES = {
    "Ankle boot": "Sneaker",  # Fashion-MNIST: grow a shaft on a sneaker
    "truck": "automobile",  # CIFAR-10
    "8": "3",  # MNIST
}
STRENGTHS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def resolve_class(value: str | int, class_names: list[str] | None) -> int:
    """A class given by index or by name -> its index."""
    names = class_names or []
    if isinstance(value, str) and value in names:
        return names.index(value)
    try:
        index = int(value)
    except ValueError:
        raise WaveflowError(
            f"unknown class {value!r} (known: {', '.join(names) or 'none'})"
        ) from None
    if names and not 0 <= index < len(names):
        raise WaveflowError(f"class index {index} out of range 0..{len(names) - 1}")
    return index


def default_attribute(class_names: list[str] | None) -> tuple[int, int] | None:
    """The dataset's demo pair (positive, negative), else classes (1, 0), else None."""
    names = class_names or []
    for positive, negative in DEFAULT_ATTRIBUTES.items():
        if positive in names and negative in names:
            return names.index(positive), names.index(negative)
    return (1, 0) if len(names) >= 2 else None


def clean_images(dataset: ImageDataset, indices: Tensor) -> tuple[Tensor, Tensor]:
    """Items at ``indices`` dequantised to bin centres (no noise, no flips): ``(x, y)``."""
    levels = reduce_bits(dataset.images[indices], dataset.n_bits)
    return dequantize(levels, dataset.n_bits, noise=False), dataset.labels[indices]


def _on(model: Glow, *tensors: Tensor) -> list[Tensor]:
    param = next(model.parameters())
    return [
        t.to(device=param.device, dtype=param.dtype if t.is_floating_point() else t.dtype)
        for t in tensors
    ]


def interpolation_grid(
    model: Glow, dataset: ImageDataset, n_pairs: int = 4, steps: int = 9
) -> Tensor:
    """Rows of ``steps`` images morphing item ``2k`` into item ``2k + 1`` of ``dataset``."""
    if len(dataset) < 2:
        raise WaveflowError("interpolation needs at least 2 held-out images")
    n_pairs = min(n_pairs, len(dataset) // 2)
    rows = []
    for k in range(n_pairs):
        x, y = _on(model, *clean_images(dataset, torch.tensor([2 * k, 2 * k + 1])))
        rows.append(interpolate(model, x[0], x[1], steps, y))
    return torch.cat(rows)


def manipulation_grid(
    model: Glow,
    dataset: ImageDataset,
    positive: int,
    negative: int,
    n_images: int = 4,
    n_per_class: int = 100,
    strengths: tuple[float, ...] = STRENGTHS,
) -> Tensor:
    """Rows of ``len(strengths)`` images: ``n_images`` held-out images of class ``negative``
    moved along (mean latent of ``positive``) - (mean latent of ``negative``), estimated from
    up to ``n_per_class`` held-out images of each class."""
    labels = dataset.labels
    pos_idx = torch.nonzero(labels == positive).flatten()[:n_per_class]
    neg_idx = torch.nonzero(labels == negative).flatten()[:n_per_class]
    if len(pos_idx) == 0 or len(neg_idx) == 0:
        raise WaveflowError(
            f"attribute manipulation needs held-out images of classes {positive} and {negative}"
        )
    x, y = _on(model, *clean_images(dataset, torch.cat([pos_idx, neg_idx])))
    direction = attribute_direction(model, x, y, positive, negative)
    chosen = len(pos_idx) + torch.arange(min(n_images, len(neg_idx)))
    return manipulate(model, x[chosen], direction, strengths, y[chosen])
