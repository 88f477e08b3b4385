"""Image datasets for Glow: (Fashion-)MNIST, CIFAR-10 and image folders.

Images are held in memory as ``uint8 [N, C, S, S]`` at the model's ``image_size`` ``S``.
An item is ``(x, y)``: ``x`` float32 ``[C, S, S]`` in ``[-0.5, 0.5]`` after ``n_bits`` reduction
and uniform dequantisation (see :mod:`waveflow.image.pixels`), optionally flipped
horizontally; ``y`` the int64 class label.

28x28 (Fashion-)MNIST reaches 32x32 by zero padding (2 pixels each side, black: the
background of these datasets) by default, or by bilinear resizing (``pad_mode: resize``).
The validation set is the first ``n_valid`` images of the test split (folders: the last
``n_valid`` images of a fixed shuffle are held out).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from waveflow.errors import WaveflowError
from waveflow.image.cifar import load_cifar10_split
from waveflow.image.folder import load_folder
from waveflow.image.idx import load_idx_split
from waveflow.image.pixels import check_n_bits, dequantize, reduce_bits

DATASET_CHANNELS = {"mnist": 1, "fashion_mnist": 1, "cifar10": 3}
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
}
FOLDER_SPLIT_SEED = 0


@dataclasses.dataclass
class ImageDataConfig:
    """The YAML ``data:`` section of a Glow experiment.

    Image size, channels and bit depth come from the ``model:`` section (``image_size``,
    ``in_channels``, ``n_bits``), because the density is defined on that data.
    """

    dataset: Literal["fashion_mnist", "mnist", "cifar10", "folder"] = "cifar10"
    root: str = "downloads/cifar10"
    n_valid: int | None = None  # validation images; null = the whole test split
    max_train: int | None = None  # use only the first max_train training images; null = all
    flips: bool = False  # random horizontal flips of training images (CIFAR-10: true)
    pad_mode: Literal["zeros", "resize"] = "zeros"  # how 28x28 (Fashion-)MNIST gets bigger

    def __post_init__(self) -> None:
        for name in ("n_valid", "max_train"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise WaveflowError(f"data.{name} must be > 0 or null, got {value}")


class ImageDataset(Dataset):
    """``uint8 [N, C, H, W]`` images and ``[N]`` labels -> dequantised ``(x, y)`` items."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        n_bits: int,
        flips: bool = False,
        noise: bool = True,
        class_names: list[str] | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise WaveflowError(f"ImageDataset: need uint8 [N, C, H, W], got {images.dtype}")
        if labels.shape != (images.shape[0],):
            raise WaveflowError("ImageDataset: one label per image is required")
        self.images = images
        self.labels = labels.long()
        self.n_bits = check_n_bits(n_bits)
        self.flips = flips
        self.noise = noise
        self.class_names = class_names

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image = self.images[index]
        if self.flips and torch.rand(()) < 0.5:
            image = image.flip(-1)
        x = dequantize(reduce_bits(image, self.n_bits), self.n_bits, noise=self.noise)
        return x, self.labels[index]


def fit_size(images: np.ndarray, size: int, mode: str) -> np.ndarray:
    """``uint8 [N, C, h, w]`` -> ``[N, C, size, size]`` by centred zero padding or resizing."""
    height, width = images.shape[2:]
    if (height, width) == (size, size):
        return images
    if mode == "zeros":
        if height > size or width > size:
            raise WaveflowError(
                f"cannot zero-pad {height}x{width} images to {size}x{size}; use "
                "data.pad_mode=resize or a larger model.image_size"
            )
        top, left = (size - height) // 2, (size - width) // 2
        pad = ((0, 0), (0, 0), (top, size - height - top), (left, size - width - left))
        return np.pad(images, pad)
    resized = F.interpolate(
        torch.from_numpy(images).float(), size=(size, size), mode="bilinear", antialias=True
    )
    return resized.round().clamp(0, 255).to(torch.uint8).numpy()


def load_split(
    data_cfg: ImageDataConfig, split: str, channels: int, image_size: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Raw ``split`` ("train"/"test") of a built-in dataset at ``image_size``:
    (uint8 images, labels, class names)."""
    name = data_cfg.dataset
    if name == "folder":
        raise WaveflowError("image folders have no train/test split; use build_image_datasets")
    expected = DATASET_CHANNELS[name]
    if channels != expected:
        raise WaveflowError(
            f"dataset {name} has {expected} channel(s) but model.in_channels is {channels}"
        )
    if name == "cifar10":
        images, labels = load_cifar10_split(data_cfg.root, split)
    else:
        images, labels = load_idx_split(data_cfg.root, split)
    return fit_size(images, image_size, data_cfg.pad_mode), labels, CLASS_NAMES[name]


def build_image_datasets(
    data_cfg: ImageDataConfig, channels: int, image_size: int, n_bits: int
) -> tuple[ImageDataset, ImageDataset]:
    """(train, valid) datasets; flips apply to training images only."""
    if data_cfg.dataset == "folder":
        train_images, train_labels, valid_images, valid_labels, names = _folder_split(
            data_cfg, channels, image_size
        )
    else:
        train_images, train_labels, names = load_split(data_cfg, "train", channels, image_size)
        valid_images, valid_labels, _ = load_split(data_cfg, "test", channels, image_size)
        if data_cfg.n_valid is not None:
            valid_images = valid_images[: data_cfg.n_valid]
            valid_labels = valid_labels[: data_cfg.n_valid]
    if data_cfg.max_train is not None:
        train_images = train_images[: data_cfg.max_train]
        train_labels = train_labels[: data_cfg.max_train]
    train = ImageDataset(
        torch.from_numpy(train_images),
        torch.from_numpy(train_labels),
        n_bits,
        flips=data_cfg.flips,
        class_names=names,
    )
    valid = ImageDataset(
        torch.from_numpy(valid_images), torch.from_numpy(valid_labels), n_bits, class_names=names
    )
    return train, valid


def _folder_split(
    data_cfg: ImageDataConfig, channels: int, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    images, labels, names = load_folder(Path(data_cfg.root), channels, image_size)
    n_valid = data_cfg.n_valid if data_cfg.n_valid is not None else max(1, len(images) // 10)
    if n_valid >= len(images):
        raise WaveflowError(
            f"{data_cfg.root}: {len(images)} images leave none for training with "
            f"data.n_valid={n_valid}"
        )
    order = np.random.default_rng(FOLDER_SPLIT_SEED).permutation(len(images))
    train, valid = order[:-n_valid], order[-n_valid:]
    return images[train], labels[train], images[valid], labels[valid], names
