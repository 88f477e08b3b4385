"""Reading IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw, with clear errors."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from waveflow.errors import WaveflowError

UBYTE = 0x08


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The uint8 array stored in an IDX file (``.gz`` is detected from the content).

    Format: two zero bytes, a type byte (0x08 = unsigned byte, the only type MNIST uses), the
    number of dims, one big-endian uint32 per dim, then the values in C order.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise WaveflowError(f"IDX file not found: {path}") from err
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise WaveflowError(f"{path}: corrupt or truncated gzip data ({err})") from err
    if len(data) < 4 or data[:2] != b"\0\0":
        raise WaveflowError(f"{path}: not an IDX file (bad magic number)")
    if data[2] != UBYTE:
        raise WaveflowError(f"{path}: unsupported IDX value type 0x{data[2]:02x} (need ubyte)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise WaveflowError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(shape)
    if len(data) != expected:
        raise WaveflowError(
            f"{path}: IDX data size {len(data) - header} does not match shape {list(shape)} "
            "(truncated or corrupt file)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def find_idx(root: Path, stem: str) -> Path:
    """``root/stem`` or ``root/stem.gz``, whichever exists (raw preferred)."""
    for name in (stem, f"{stem}.gz"):
        if (root / name).is_file():
            return root / name
    raise WaveflowError(
        f"{root / stem}(.gz) not found; download the dataset there (the recipe's stage 0, or "
        "waveflow.image.download.download_dataset)"
    )


def load_idx_split(root: str | os.PathLike[str], split: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-layout ``split`` ("train" or "test"): images ``uint8 [N, 1, 28, 28]``, labels [N]."""
    root = Path(root)
    prefix = {"train": "train", "test": "t10k"}[split]
    images_path = find_idx(root, f"{prefix}-images-idx3-ubyte")
    labels_path = find_idx(root, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise WaveflowError(f"{images_path}: expected 3-D images [N, H, W], got {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise WaveflowError(
            f"{labels_path}: {labels.shape} labels do not match {len(images)} images"
        )
    return images[:, None], labels.astype(np.int64)
