"""Reading IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw, with clear errors."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file
from waveflow.limits import LIMITS

UBYTE = 0x08


def read_idx(path: str | os.PathLike[str], max_bytes: int | None = None) -> np.ndarray:
    """The uint8 array stored in an IDX file (``.gz`` is detected from the content).

    Format: two zero bytes, a type byte (0x08 = unsigned byte, the only type MNIST uses), the
    number of dims, one big-endian uint32 per dim, then the values in C order.

    A gzipped file is decompressed as a stream and never beyond what its header declares, and
    a header declaring more than ``max_bytes`` (default ``LIMITS.max_decompressed_mb`` MB, see
    `waveflow.limits`) is refused before anything more is decompressed: a small file that
    expands to gigabytes cannot exhaust memory.
    """
    path = regular_file(path, "IDX file")
    limit = LIMITS.max_decompressed_mb * 2**20 if max_bytes is None else max_bytes
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    if not compressed:
        return _parse(path, path.read_bytes())
    try:
        with gzip.open(path, "rb") as stream:
            head = stream.read(4)
            ndim = head[3] if len(head) == 4 else 0
            head += stream.read(4 * ndim)
            declared = _declared_size(head)
            if declared is not None and declared > limit:
                raise WaveflowError(
                    f"{path}: its header declares {declared / 2**20:.0f} MB of data, more than "
                    f"the limit of {limit / 2**20:.0f} MB for a decompressed file (raise it with "
                    "--max-decompressed-mb or WAVEFLOW_MAX_DECOMPRESSED_MB)"
                )
            data = head + stream.read(min(declared if declared is not None else 0, limit) + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise WaveflowError(f"{path}: corrupt or truncated gzip data ({err})") from err
    return _parse(path, data)


def _declared_size(head: bytes) -> int | None:
    """Bytes of values an IDX header (magic, type, ndim, dims) declares; None if malformed."""
    if len(head) < 4 or head[:2] != b"\0\0" or head[3] == 0 or len(head) < 4 + 4 * head[3]:
        return None
    return math.prod(int(d) for d in np.frombuffer(head, dtype=">u4", count=head[3], offset=4))


def _parse(path: Path, data: bytes) -> np.ndarray:
    """The array in the (decompressed) bytes of IDX file `path`, with one-line errors."""
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
