"""The learning-rate schedule: linear warm-up, then none / cosine / exponential decay.

The schedule is a pure function of the (1-based) step being taken, so resuming needs no state
beyond the step counter.
"""

from __future__ import annotations

import math

import torch

from waveflow.train.config import TrainConfig


def lr_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate used for optimizer step `step` (1-based)."""
    if cfg.warmup_steps > 0 and step <= cfg.warmup_steps:
        return cfg.lr * step / cfg.warmup_steps
    since_warmup = max(0, step - cfg.warmup_steps)
    if cfg.lr_decay == "cosine":
        progress = min(1.0, since_warmup / max(1, cfg.steps - cfg.warmup_steps))
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return cfg.lr * (cfg.lr_min_ratio + (1.0 - cfg.lr_min_ratio) * cosine)
    if cfg.lr_decay == "exponential":
        return cfg.lr * cfg.lr_decay_rate ** (since_warmup / cfg.lr_decay_steps)
    return cfg.lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
