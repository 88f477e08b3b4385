"""Optimizer construction from `TrainConfig` (Adam or Adamax over trainable parameters)."""

from __future__ import annotations

import torch

from waveflow.errors import WaveflowError
from waveflow.train.config import TrainConfig

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamax": torch.optim.Adamax,
}


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by `cfg.optimizer` over the parameters that require grad."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise WaveflowError("the model has no trainable parameters")
    return OPTIMIZERS[cfg.optimizer](
        params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay
    )
