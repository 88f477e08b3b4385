"""Folders of images (PNG, JPEG, ...) as a labelled image set, read with Pillow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from waveflow.errors import WaveflowError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def list_images(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Images under ``root`` (sorted) with labels: one class per sub-folder (sorted names),
    or a single class 0 when the images lie directly in ``root``."""
    if not root.is_dir():
        raise WaveflowError(f"image folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files: list[Path] = []
    labels: list[int] = []
    if classes:
        for label, name in enumerate(classes):
            found = sorted(p for p in (root / name).rglob("*") if _is_image(p))
            files += found
            labels += [label] * len(found)
    else:
        files = sorted(p for p in root.iterdir() if _is_image(p))
        labels = [0] * len(files)
        classes = [root.name]
    if not files:
        raise WaveflowError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    return files, labels, classes


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path, channels: int, size: int) -> np.ndarray:
    """One image -> ``uint8 [channels, size, size]``: converted to grey (1) or RGB (3),
    centre-cropped to a square and resized with Lanczos filtering."""
    from PIL import Image, UnidentifiedImageError

    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise WaveflowError(f"image folders support 1 or 3 channels, not {channels}")
    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            image = image.resize((size, size), Image.Resampling.LANCZOS)
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise WaveflowError(f"{path}: cannot read image ({err})") from err
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def load_folder(
    root: str | os.PathLike[str], channels: int, size: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All images of a folder: ``uint8 [N, channels, size, size]``, labels ``[N]``, class names."""
    files, labels, classes = list_images(Path(root))
    images = np.stack([read_image(path, channels, size) for path in files])
    return images, np.asarray(labels, dtype=np.int64), classes
