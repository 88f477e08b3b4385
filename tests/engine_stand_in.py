"""The engine's stand-in task: a tiny flow for the training-engine tests (checked in
test_engine_stand_in.py).

Plug-in name in configs: "engine_stand_in:ToyTask" (tests/ is on the path). `ToyTask` fits a tiny
normalizing flow (ActNorm-like affine with data-dependent init, then one affine coupling layer)
to Gaussian vectors. It exercises what the engine must support: lazy data-dependent init, random
noise inside `loss` (dequantization-like, `loss.noise`), datasets with `set_epoch`, and NaN
examples on demand. Training losses are recorded in `ToyTask.losses` so tests can compare runs
step by step. `toy_config` writes a raw config of the task registered as "toy".
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from waveflow.task import Task


@dataclasses.dataclass
class ToyModelConfig:
    dim: int = 4
    hidden: int = 8


@dataclasses.dataclass
class ToyLossConfig:
    noise: float = 0.05  # std of the noise added inside loss() in training mode


@dataclasses.dataclass
class ToyDataConfig:
    num_train: int = 40
    num_valid: int = 12
    nan_indices: list[int] = dataclasses.field(default_factory=list)  # training examples = NaN
    all_nan: bool = False


class ToyFlow(nn.Module):
    """x [B, D] -> z [B, D]: per-dim affine (data-dependent init), then one affine coupling."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.half = dim // 2
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))
        self.net = nn.Sequential(
            nn.Linear(self.half, hidden), nn.Tanh(), nn.Linear(hidden, 2 * (dim - self.half))
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (z, logdet [B])."""
        if not self.initialized:
            with torch.no_grad():
                self.loc.copy_(x.mean(0))
                self.log_scale.copy_(x.std(0).clamp_min(1e-3).log())
                self.initialized.fill_(True)
        h = (x - self.loc) * torch.exp(-self.log_scale)
        logdet = -self.log_scale.sum().expand(x.shape[0])
        a, b = h[:, : self.half], h[:, self.half :]
        shift, raw_scale = self.net(a).chunk(2, dim=1)
        log_s = torch.tanh(raw_scale)
        z = torch.cat([a, b * torch.exp(log_s) + shift], dim=1)
        return z, logdet + log_s.sum(1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        a, zb = z[:, : self.half], z[:, self.half :]
        shift, raw_scale = self.net(a).chunk(2, dim=1)
        b = (zb - shift) * torch.exp(-torch.tanh(raw_scale))
        return torch.cat([a, b], dim=1) * torch.exp(self.log_scale) + self.loc


class ToyDataset(Dataset):
    """Gaussian vectors with a fixed mean/scale, jittered per epoch via `set_epoch`."""

    def __init__(self, size: int, dim: int, seed: int, cfg: ToyDataConfig, train: bool) -> None:
        generator = torch.Generator().manual_seed(seed)
        scale = torch.linspace(0.5, 2.0, dim)
        self.data = torch.randn(size, dim, generator=generator) * scale + 3.0
        self.nan = set(cfg.nan_indices) if train else set()
        self.all_nan = cfg.all_nan and train
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.all_nan or index in self.nan:
            return torch.full_like(self.data[index], math.nan)
        return self.data[index] + 0.01 * self.epoch


class ToyTask(Task):
    name = "toy"
    model_config = ToyModelConfig
    data_config = ToyDataConfig
    loss_config = ToyLossConfig
    losses: list[float] = []  # training-mode losses of every step, in order

    def build_model(self, model_cfg: ToyModelConfig) -> nn.Module:
        return ToyFlow(model_cfg.dim, model_cfg.hidden)

    def build_datasets(self, data_cfg: ToyDataConfig, model_cfg: ToyModelConfig):
        train = ToyDataset(data_cfg.num_train, model_cfg.dim, 0, data_cfg, train=True)
        valid = ToyDataset(data_cfg.num_valid, model_cfg.dim, 1, data_cfg, train=False)
        return train, valid

    def loss(
        self, model: nn.Module, batch: torch.Tensor, options: ToyLossConfig
    ) -> dict[str, torch.Tensor]:
        recording = model.training and torch.is_grad_enabled()
        if recording:
            batch = batch + options.noise * torch.randn_like(batch)
        z, logdet = model(batch)
        log_prob = -0.5 * (z.float() ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        nll = -(log_prob + logdet.float()).mean()
        if recording:
            ToyTask.losses.append(float(nll.detach()))
        return {"loss": nll, "bits_per_dim": nll / (z.shape[1] * math.log(2))}


def toy_config(exp_dir: Path, **train: object) -> dict:
    """A raw config of the toy task registered as "toy": `train` entries override the train
    section, except `data=` and `loss=`, which are those sections."""
    settings = {
        "exp_dir": str(exp_dir),
        "steps": 12,
        "batch_size": 8,
        "num_workers": 0,
        "lr": 1e-2,
        "log_every": 4,
        "valid_every": 3,
        "ckpt_every": 5,
        "media_every": 0,
        "device": "cpu",
    }
    settings.update(train)
    data, loss = settings.pop("data", {}), settings.pop("loss", {})
    return {
        "task": "toy",
        "model": {"dim": 4, "hidden": 8},
        "data": data,
        "loss": loss,
        "train": settings,
    }
