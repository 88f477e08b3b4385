"""Image grids and PNG files (the display side; torchvision is not a dependency)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from waveflow.atomic import atomic_write
from waveflow.errors import WaveflowError


def make_grid(images: Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 1.0) -> Tensor:
    """``[N, C, H, W]`` values in ``[0, 1]`` -> one ``[C, H', W']`` image with ``nrow`` images
    per row, separated (and framed) by ``padding`` pixels of ``pad_value``."""
    if images.dim() != 4 or images.shape[0] == 0:
        raise WaveflowError(
            f"make_grid: expected a non-empty [N, C, H, W], got {list(images.shape)}"
        )
    n, c, h, w = images.shape
    cols = max(1, min(nrow, n))
    rows = math.ceil(n / cols)
    grid = torch.full(
        (c, rows * (h + padding) + padding, cols * (w + padding) + padding),
        pad_value,
        dtype=images.dtype,
    )
    for index in range(n):
        row, col = divmod(index, cols)
        top, left = padding + row * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[index]
    return grid


def to_uint8_hwc(image: Tensor) -> np.ndarray:
    """``[C, H, W]`` in ``[0, 1]`` (C = 1 or 3) -> ``uint8 [H, W]`` or ``[H, W, 3]``."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise WaveflowError(f"expected a [1 or 3, H, W] image, got {list(image.shape)}")
    array = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def write_png(path: str | os.PathLike[str], image: Tensor) -> Path:
    """Write a ``[C, H, W]`` image in ``[0, 1]`` as an 8-bit PNG, atomically."""
    from PIL import Image

    path = Path(path)
    picture = Image.fromarray(np.ascontiguousarray(to_uint8_hwc(image)))
    atomic_write(path, lambda f: picture.save(f, format="PNG"))
    return path


def save_grid(
    path: str | os.PathLike[str], images: Tensor, nrow: int = 8, padding: int = 2
) -> Path:
    """:func:`make_grid` + :func:`write_png`."""
    return write_png(path, make_grid(images, nrow=nrow, padding=padding))
