"""Test-set bits/dim of an image flow (Glow, NICE, RealNVP), and the image mode of
``waveflow evaluate``."""

from __future__ import annotations

import argparse
import json
import math
import sys

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


def run_image_evaluation(args: argparse.Namespace) -> int:
    """Evaluate a Glow checkpoint: print test bits/dim (and optionally write JSON).

    Reads ``checkpoint``, ``data_root``, ``split``, ``batch_size``, ``max_images``, ``device``
    and ``json_out`` from ``args`` (the options of ``waveflow evaluate``).
    """
    from waveflow.atomic import atomic_write_text
    from waveflow.checkpoint import load_model
    from waveflow.config import from_dict
    from waveflow.image.data import ImageDataConfig, ImageDataset, load_split

    model, ckpt = load_model(args.checkpoint, map_location=getattr(args, "device", "cpu"))
    from waveflow.image import IMAGE_TASKS

    if ckpt["task"] not in IMAGE_TASKS:
        raise WaveflowError(
            f"{args.checkpoint} is a {ckpt['task']!r} checkpoint, not an image flow "
            f"({', '.join(IMAGE_TASKS)})"
        )
    data = dict(ckpt["config"].get("data") or {})
    if getattr(args, "data_root", None):
        data["root"] = args.data_root
    data_cfg = from_dict(ImageDataConfig, data, "data")
    if data_cfg.dataset == "folder":
        from waveflow.image.data import build_image_datasets

        dataset = build_image_datasets(data_cfg, model.in_channels, model.image_size, model.n_bits)[
            1
        ]
    else:
        images, labels, _ = load_split(
            data_cfg, getattr(args, "split", "test"), model.in_channels, model.image_size
        )
        dataset = ImageDataset(torch.from_numpy(images), torch.from_numpy(labels), model.n_bits)
    result = evaluate_bits_per_dim(
        model,
        dataset,
        batch_size=getattr(args, "batch_size", 256),
        device=getattr(args, "device", "cpu"),
        max_images=getattr(args, "max_images", None),
    )
    split = "held-out" if data_cfg.dataset == "folder" else getattr(args, "split", "test")
    print(f"{split} bits/dim: {result['bits_per_dim']:.4f} over {int(result['images'])} images")
    json_out = getattr(args, "json_out", None)
    if json_out:
        atomic_write_text(json_out, json.dumps({"split": split, **result}, indent=2) + "\n")
    sys.stdout.flush()
    return 0
