"""2-D toy datasets: points ``[N, 2]`` (float32) from a seeded generator.

* ``moons``: two interleaving half circles with Gaussian noise (scikit-learn's
  ``make_moons`` layout), shifted and scaled to roughly ``[-2, 2]^2``.
* ``checkerboard``: uniform on the 8 dark squares of a 4x4 board over ``[-4, 4]^2``
  (the FFJORD/RealNVP tutorial density; a density with sharp edges).

Items are ``[2]`` tensors, so a batch is ``[B, 2]`` (channel dim 1, no trailing dims).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from waveflow.errors import WaveflowError

BOUNDS = {"moons": (-3.0, 3.0), "checkerboard": (-4.5, 4.5)}  # square plotting window


@dataclasses.dataclass
class Toy2DDataConfig:
    """The YAML ``data:`` section of ``task: toy2d``."""

    dataset: Literal["moons", "checkerboard"] = "moons"
    n_train: int = 20000
    n_valid: int = 2000
    noise: float = 0.05  # moons only: std of the Gaussian noise (before scaling)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_valid"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"data.{name} must be > 0, got {getattr(self, name)}")
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise WaveflowError(f"data.noise must be >= 0, got {self.noise}")


def make_points(name: str, n: int, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    """``n`` points ``[n, 2]`` of the toy density ``name``."""
    if name == "moons":
        outer = n // 2
        t = rng.uniform(0, math.pi, n)
        upper = np.stack([np.cos(t), np.sin(t)], 1)
        lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
        points = np.where((np.arange(n) < outer)[:, None], upper, lower)
        points = points + noise * rng.standard_normal((n, 2))
        return ((points - [0.5, 0.25]) * 1.6).astype(np.float32)
    if name == "checkerboard":
        x1 = rng.uniform(-2, 2, n)
        x2 = rng.uniform(0, 1, n) - rng.integers(0, 2, n) * 2
        x2 = x2 + np.floor(x1) % 2
        return (np.stack([x1, x2], 1) * 2).astype(np.float32)
    raise WaveflowError(f"data.dataset must be one of {list(BOUNDS)}, got {name!r}")


class PointDataset(Dataset):
    """A fixed set of points ``[N, 2]``; item ``i`` is the ``[2]`` tensor ``points[i]``."""

    def __init__(self, points: Tensor, name: str) -> None:
        self.points = points
        self.name = name

    def __len__(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, index: int) -> Tensor:
        return self.points[index]


def build_point_datasets(cfg: Toy2DDataConfig) -> tuple[PointDataset, PointDataset]:
    """(train, valid) point sets drawn from independent seeded streams."""
    train_rng, valid_rng = (np.random.default_rng([cfg.seed, k]) for k in (0, 1))
    train = make_points(cfg.dataset, cfg.n_train, train_rng, cfg.noise)
    valid = make_points(cfg.dataset, cfg.n_valid, valid_rng, cfg.noise)
    return (
        PointDataset(torch.from_numpy(train), cfg.dataset),
        PointDataset(torch.from_numpy(valid), cfg.dataset),
    )
