"""``Toy2DTask`` (registry name "toy2d"): NICE/RealNVP on 2-D points, loss = NLL in nats."""

from __future__ import annotations

from typing import Any

import torch

from waveflow.task import NoLossOptions, Task
from waveflow.toy.data import Toy2DDataConfig, build_point_datasets
from waveflow.toy.model import Toy2DConfig, Toy2DFlow


class Toy2DTask(Task):
    """Loss: mean negative log-likelihood in nats per point; logged metric ``nll``."""

    name = "toy2d"
    model_config = Toy2DConfig
    data_config = Toy2DDataConfig

    def build_model(self, model_cfg: Toy2DConfig) -> Toy2DFlow:
        return Toy2DFlow.from_config(model_cfg)

    def build_datasets(self, data_cfg: Toy2DDataConfig, model_cfg: Toy2DConfig) -> tuple:
        return build_point_datasets(data_cfg)

    def loss(
        self, model: torch.nn.Module, batch: Any, options: NoLossOptions
    ) -> dict[str, torch.Tensor]:
        flow: Toy2DFlow = getattr(model, "module", model)
        z, logdet = model(batch)
        nll = -flow.flow.latent_log_prob(z, logdet).mean()
        return {"loss": nll, "nll": nll.detach()}

    def initialize(self, model: torch.nn.Module, batch: Any, options: NoLossOptions) -> None:
        model.initialize(batch)
