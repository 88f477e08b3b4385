"""Reading CIFAR-10 python batches safely: a restricted unpickler that only rebuilds arrays."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from waveflow.errors import WaveflowError
from waveflow.safe_pickle import RestrictedUnpickler

# The only globals a CIFAR-10 batch needs: numpy's array reconstruction (and, for files
# re-pickled by Python 3 with protocol 2, the pure function that turns text back into bytes).
ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)


class _ArrayOnlyUnpickler(RestrictedUnpickler):
    def allowed_global(self, module: str, name: str) -> Any | None:
        if (module, name) not in ALLOWED_GLOBALS:
            return None
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return pickle.Unpickler.find_class(self, module, name)


def read_cifar_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file -> images ``uint8 [N, 3, 32, 32]`` and labels ``int64 [N]``.

    Only numpy arrays, dicts, lists, bytes and numbers are unpickled; a file that asks for any
    other Python object is refused without executing it.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise WaveflowError(
            f"CIFAR-10 batch not found: {path} (extract cifar-10-python.tar.gz so that "
            "cifar-10-batches-py/ is under the data root)"
        ) from err
    try:
        batch = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # pickle raises many types on corrupt data
        raise WaveflowError(f"{path}: not a readable CIFAR-10 batch ({err})") from err
    if not isinstance(batch, dict):
        raise WaveflowError(f"{path}: not a CIFAR-10 batch (holds a {type(batch).__name__})")
    data, labels = _entry(batch, "data"), _entry(batch, "labels")
    if data is None or labels is None:
        raise WaveflowError(f"{path}: CIFAR-10 batch without 'data' and 'labels'")
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise WaveflowError(
            f"{path}: CIFAR-10 data must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}"
        )
    if labels.shape != (len(data),) or (labels < 0).any() or (labels > 9).any():
        raise WaveflowError(f"{path}: CIFAR-10 labels must be {len(data)} values in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _entry(batch: dict, key: str) -> Any:
    return batch.get(key.encode(), batch.get(key))


def load_cifar10_split(root: str | os.PathLike[str], split: str) -> tuple[np.ndarray, np.ndarray]:
    """``split`` ("train"/"test") from ``root/cifar-10-batches-py`` (or ``root`` itself)."""
    root = Path(root)
    folder = root / "cifar-10-batches-py"
    if not folder.is_dir():
        folder = root
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    parts = [read_cifar_batch(folder / name) for name in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
