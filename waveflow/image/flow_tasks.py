"""``NICETask`` and ``RealNVPTask`` (registry names "nice" and "realnvp").

Everything but the model is the Glow task's: the loss is bits/dim of the dequantised images
(:class:`~waveflow.image.task.GlowTask`), the data is the image data section, and the media
are temperature samples and latent interpolations. Both models are unconditional.
"""

from __future__ import annotations

from waveflow.image.nice import NICE, NICEConfig
from waveflow.image.realnvp import RealNVP, RealNVPConfig
from waveflow.image.task import GlowTask


class NICETask(GlowTask):
    name = "nice"
    model_config = NICEConfig

    def build_model(self, model_cfg: NICEConfig) -> NICE:
        self.y_weight = 0.0
        return NICE.from_config(model_cfg)


class RealNVPTask(GlowTask):
    name = "realnvp"
    model_config = RealNVPConfig

    def build_model(self, model_cfg: RealNVPConfig) -> RealNVP:
        self.y_weight = 0.0
        return RealNVP.from_config(model_cfg)
