"""``GlowTask``: Glow as the training engine sees it (registry name "glow").

The loss is bits per dimension of the dequantised images, including the ``log(n_bins)``
discretisation term (see :mod:`waveflow.image.pixels`): uniform dequantisation, or with
``model.dequantization: variational`` the variational bound of Flow++
(:mod:`waveflow.image.dequantization`), plus, for
class-conditional models, ``loss.y_weight`` times the auxiliary classifier's cross-entropy
in bits (Glow's objective). Logged metrics: ``bits_per_dim`` and, when conditional,
``class_bits`` and ``class_accuracy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from waveflow.errors import WaveflowError
from waveflow.image.data import ImageDataConfig, build_image_datasets
from waveflow.image.glow import Glow, GlowConfig
from waveflow.image.pixels import bits_per_dim
from waveflow.task import Task

MEDIA_TEMPERATURES = (0.0, 0.5, 0.7, 1.0)
MEDIA_SAMPLES = 16


@dataclass
class GlowLossConfig:
    """The ``loss:`` section of Glow: ``y_weight`` weights the auxiliary classification loss
    (bits) of a class-conditional model (0: no classifier loss)."""

    y_weight: float = 0.01

    def __post_init__(self) -> None:
        if not math.isfinite(self.y_weight) or self.y_weight < 0:
            raise WaveflowError(f"loss.y_weight must be >= 0, got {self.y_weight}")


class GlowTask(Task):
    name = "glow"
    model_config = GlowConfig
    data_config = ImageDataConfig
    loss_config = GlowLossConfig
    moved_keys = {"model.y_weight": "loss.y_weight"}

    def build_model(self, model_cfg: GlowConfig) -> Glow:
        return Glow.from_config(model_cfg)

    def size_floor(self, model_cfg: GlowConfig) -> tuple[int, int]:
        """At least one tensor and one ``hidden x hidden`` 1x1 conv per step of every level."""
        steps = model_cfg.n_levels * model_cfg.n_steps
        return steps, steps * model_cfg.hidden_channels**2

    def build_datasets(self, data_cfg: ImageDataConfig, model_cfg: GlowConfig) -> tuple:
        return build_image_datasets(
            data_cfg, model_cfg.in_channels, model_cfg.image_size, model_cfg.n_bits
        )

    def loss(
        self, model: torch.nn.Module, batch: Any, options: GlowLossConfig
    ) -> dict[str, torch.Tensor]:
        x, y = batch
        glow: Glow = getattr(model, "module", model)
        conditional = glow.n_classes is not None
        with_logits = conditional and options.y_weight > 0
        x, log_q = glow.dequantize(x)  # uniform: unchanged, log_q = 0
        out = model(x, y if conditional else None, with_logits=with_logits)
        log_prob = glow.flow.latent_log_prob(out[0], out[1]) - log_q
        bpd = bits_per_dim(log_prob, math.prod(x.shape[1:]), glow.n_bits).mean()
        metrics = {"loss": bpd, "bits_per_dim": bpd.detach()}
        if with_logits:
            logits = out[2].float()
            class_bits = F.cross_entropy(logits, y) / math.log(2.0)
            metrics["loss"] = bpd + options.y_weight * class_bits
            metrics["class_bits"] = class_bits.detach()
            metrics["class_accuracy"] = (logits.argmax(1) == y).float().mean()
        return metrics

    def initialize(self, model: torch.nn.Module, batch: Any, options: GlowLossConfig) -> None:
        x, y = batch
        model.initialize(x, y if model.n_classes is not None else None)

    def log_media(self, model: torch.nn.Module, writer: Any, step: int, valid_set: Dataset) -> None:
        from waveflow.image.demos import default_attribute, interpolation_grid, manipulation_grid
        from waveflow.image.grid import make_grid
        from waveflow.image.sampling import temperature_samples

        samples = temperature_samples(model, MEDIA_TEMPERATURES, MEDIA_SAMPLES)
        for temperature, images in samples.items():
            writer.add_image(f"samples/T={temperature:g}", make_grid(images), step)
        if len(valid_set) >= 2:
            writer.add_image(
                "latent/interpolation",
                make_grid(interpolation_grid(model, valid_set, 2), nrow=9),
                step,
            )
        attribute = default_attribute(getattr(valid_set, "class_names", None))
        present = set(valid_set.labels.tolist()) if attribute is not None else set()
        if attribute is not None and set(attribute) <= present:
            grid = manipulation_grid(model, valid_set, *attribute, n_images=2, n_per_class=32)
            writer.add_image("latent/manipulation", make_grid(grid, nrow=5), step)
