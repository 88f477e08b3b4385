"""Test-set bits/dim of an image flow (Glow, NICE, RealNVP), and the image mode of
``waveflow evaluate``."""

from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from waveflow.errors import WaveflowError
from waveflow.image.glow import Glow


@torch.no_grad()
def evaluate_bits_per_dim(
    model: Glow,
    dataset: Dataset,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    max_images: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Mean bits/dim of ``dataset`` items ``(x, y)`` under ``model`` (one uniform
    dequantisation per image, seeded), plus the number of images: ``{"bits_per_dim",
    "images"}``. Labels are passed only to class-conditional models."""
    if batch_size <= 0:
        raise WaveflowError(f"batch_size must be > 0, got {batch_size}")
    count = len(dataset) if max_images is None else min(max_images, len(dataset))
    if count == 0:
        raise WaveflowError("evaluation set is empty")
    subset = torch.utils.data.Subset(dataset, range(count))
    model = model.to(device).eval()
    dtype = next(model.parameters()).dtype
    total = 0.0
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for x, y in DataLoader(subset, batch_size=batch_size, shuffle=False):
            labels = y.to(device) if model.n_classes is not None else None
            bpd = model.bits_per_dim(x.to(device=device, dtype=dtype), labels)
            total += float(bpd.double().sum())
    finally:
        torch.random.set_rng_state(generator_state)
    mean = total / count
    if not math.isfinite(mean):
        raise WaveflowError("evaluation produced a non-finite bits/dim")
    return {"bits_per_dim": mean, "images": float(count)}


def held_out_images(
    ckpt: dict[str, Any], model: Glow, data_root: str | None = None, split: str = "test"
) -> tuple[Dataset, str]:
    """The images a Glow checkpoint is evaluated on, and the name of that split.

    The checkpoint's ``data:`` section (``data_root`` replaces its ``root``) names the data set:
    for a built-in data set the ``split`` ("test" or "train") with its class names; for an
    image folder, the held-out part of the training split ("held-out").
    """
    from waveflow.dataclass_dict import from_dict
    from waveflow.image.data import (
        ImageDataConfig,
        ImageDataset,
        build_image_datasets,
        load_split,
    )

    data = dict(ckpt["config"].get("data") or {})
    if data_root:
        data["root"] = data_root
    data_cfg = from_dict(ImageDataConfig, data, "data")
    if data_cfg.dataset == "folder":
        datasets = build_image_datasets(data_cfg, model.in_channels, model.image_size, model.n_bits)
        return datasets[1], "held-out"
    images, labels, names = load_split(data_cfg, split, model.in_channels, model.image_size)
    dataset = ImageDataset(
        torch.from_numpy(images), torch.from_numpy(labels), model.n_bits, class_names=names
    )
    return dataset, split


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data_root: str | None = None,
    split: str = "test",
    batch_size: int = 256,
    max_images: int | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Bits/dim of an image-flow checkpoint (Glow, NICE, RealNVP) on its held-out images
    (see :func:`held_out_images`): ``{"split", "bits_per_dim", "images", "dequantization"}``;
    with ``dequantization: variational`` the bits/dim are the variational bound (one draw of
    the learned noise per image, see :mod:`waveflow.image.dequantization`)."""
    from waveflow.checkpoint import load_model
    from waveflow.task import IMAGE_TASKS

    model, ckpt = load_model(checkpoint, map_location=device)
    if ckpt["task"] not in IMAGE_TASKS:
        raise WaveflowError(
            f"{checkpoint} is a {ckpt['task']!r} checkpoint, not an image flow "
            f"({', '.join(IMAGE_TASKS)})"
        )
    dataset, split_name = held_out_images(ckpt, model, data_root, split)
    result = evaluate_bits_per_dim(
        model, dataset, batch_size=batch_size, device=device, max_images=max_images
    )
    dequantization = getattr(model, "dequantization", "uniform")
    return {"split": split_name, **result, "dequantization": dequantization}
