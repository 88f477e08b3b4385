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


class RealNVPTask(GlowTask):
    name = "realnvp"
    model_config = RealNVPConfig
    loss_config = NoLossOptions
    moved_keys: dict[str, str] = {}

    def build_model(self, model_cfg: RealNVPConfig) -> RealNVP:
        return RealNVP.from_config(model_cfg)
