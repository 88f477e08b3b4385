"""``NICETask`` and ``RealNVPTask`` (registry names "nice" and "realnvp").

Everything but the model is the Glow task's: the loss is bits/dim of the dequantised images
(:class:`~waveflow.image.task.GlowTask`), the data is the image data section, and the media
are temperature samples and latent interpolations. Both models are unconditional, so their
``loss:`` section is empty (no classifier weight).
"""

from __future__ import annotations

from waveflow.image.nice import NICE, NICEConfig
from waveflow.image.realnvp import RealNVP, RealNVPConfig
from waveflow.image.task import GlowTask
from waveflow.task import NoLossOptions


class NICETask(GlowTask):
    name = "nice"
    model_config = NICEConfig
    loss_config = NoLossOptions
    moved_keys: dict[str, str] = {}

    def build_model(self, model_cfg: NICEConfig) -> NICE:
        return NICE.from_config(model_cfg)

    def size_floor(self, model_cfg: NICEConfig) -> tuple[int, int]:
        """At least one ``hidden x hidden`` layer per coupling (when it has hidden layers)."""
        hidden = model_cfg.hidden_features**2 if model_cfg.n_hidden_layers > 1 else 0
        return model_cfg.n_couplings, model_cfg.n_couplings * hidden


class RealNVPTask(GlowTask):
    name = "realnvp"
    model_config = RealNVPConfig
    loss_config = NoLossOptions
    moved_keys: dict[str, str] = {}

    def build_model(self, model_cfg: RealNVPConfig) -> RealNVP:
        return RealNVP.from_config(model_cfg)

    def size_floor(self, model_cfg: RealNVPConfig) -> tuple[int, int]:
        """At least one tensor per final coupling (a loose bound: never above the real count)."""
        return model_cfg.n_final, model_cfg.n_final
