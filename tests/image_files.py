"""Tiny image data sets on disk for tests: MNIST-layout IDX files and CIFAR-10 pickles."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX file (uint8) of `array`."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_mnist_layout(root: Path, n_train: int = 20, n_test: int = 10, seed: int = 0) -> None:
    """A tiny MNIST-layout folder: gzip train files, raw test files."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n, compress in (("train", n_train, True), ("t10k", n_test, False)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte"
            if compress:
                (root / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (root / name).write_bytes(data)


def write_cifar(root: Path, n: int = 6) -> None:
    """A CIFAR-10 python layout under `root` with `n` random images per batch file."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(n)],
            b"batch_label": name.encode(),
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def write_blob_images(root: Path, n_train: int = 512, n_test: int = 64) -> None:
    """An MNIST-layout folder of 28x28 bright ellipses on black (Fashion-MNIST-like statistics)."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:28, 0:28]
    root.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        centre = rng.uniform(10, 18, size=(n, 2, 1, 1))
        radius = rng.uniform(4, 10, size=(n, 2, 1, 1))
        inside = ((rows - centre[:, 0]) / radius[:, 0]) ** 2 + (
            (cols - centre[:, 1]) / radius[:, 1]
        ) ** 2
        images = (np.clip(1.5 - inside, 0, 1) * rng.uniform(100, 255, size=(n, 1, 1))).astype(
            np.uint8
        )
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(n) % 10))


def fashion_mnist_root(tmp_path: Path) -> Path:
    """Real Fashion-MNIST when installed, else generated images of similar structure."""
    if SYSTEM_FASHION_MNIST.is_dir():
        return SYSTEM_FASHION_MNIST
    write_blob_images(tmp_path / "blobs")
    return tmp_path / "blobs"
