"""NICE (Dinh, Krueger & Bengio, 2015) on images, composed from the bijector core.

``x [B, C, H, W]`` is flattened to ``D = C*H*W`` pixels and split into even and odd pixels
(``Squeeze(2)`` along the flat axis: ``[B, 2, D/2]``, NICE's odd/even partition). Then::

    n_couplings x additive coupling (MLP m: D/2 -> D/2), Reverse between them
                                    (swaps the even/odd roles: NICE's alternating fixed masks)
    Scale([2, D/2])                 (the diagonal scaling layer S, NICE's only volume change)

and the latent is unsqueezed and reshaped back to ``[B, C, H, W]``, scored by a logistic
(NICE's choice) or Gaussian base. ``log p(x) = sum log p_base(z) + sum(log S)``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from waveflow.bijectors import (
    AffineCoupling,
    Chain,
    Flow,
    Inverse,
    Reshape,
    Reverse,
    Scale,
    Squeeze,
    base_distribution,
)
from waveflow.bijectors.base import Bijector
from waveflow.errors import WaveflowError
from waveflow.image.flow_model import ImageFlow
from waveflow.image.pixels import check_n_bits
from waveflow.nets import CouplingMLP


@dataclasses.dataclass
class NICEConfig:
    """The YAML ``model:`` section of ``task: nice`` (defaults: the paper's MNIST model:
    4 couplings, 5 hidden layers of 1000 units, logistic prior, on 28x28 images)."""

    in_channels: int = 1
    image_size: int = 28
    n_bits: int = 8
    n_couplings: int = 4
    hidden_features: int = 1000
    n_hidden_layers: int = 5
    coupling: Literal["additive", "affine", "sigmoid", "tanh"] = "additive"
    prior: Literal["logistic", "gaussian"] = "logistic"
    scaling: bool = True

    def __post_init__(self) -> None:
        for name in ("in_channels", "image_size", "n_couplings", "hidden_features"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"model.{name} must be > 0, got {getattr(self, name)}")
        if self.n_hidden_layers <= 0:
            raise WaveflowError(f"model.n_hidden_layers must be > 0, got {self.n_hidden_layers}")
        if self.coupling != "additive":
            raise WaveflowError(
                f"model.coupling: NICE uses additive coupling (volume preserving; the scaling "
                f"layer carries the volume change), got {self.coupling!r}; use task: realnvp "
                "for learned affine coupling"
            )
        check_n_bits(self.n_bits)
        if (self.in_channels * self.image_size**2) % 2:
            raise WaveflowError(
                f"model.image_size {self.image_size}: NICE splits the C*H*W = "
                f"{self.in_channels * self.image_size**2} pixels into even and odd halves, "
                "which needs an even count"
            )


class NICE(ImageFlow):
    """The NICE model; see the module docstring. Build with :meth:`from_config`."""

    def __init__(self, config: NICEConfig | None = None) -> None:
        config = config or NICEConfig()
        super().__init__("NICE", config.in_channels, config.image_size, config.n_bits)
        self.config = config
        pixels = config.in_channels * config.image_size**2
        half = (1, pixels // 2)
        members: list[Bijector] = [
            Reshape((config.in_channels, config.image_size, config.image_size), (1, pixels)),
            Squeeze(2, spatial_dims=1),
        ]
        for index in range(config.n_couplings):
            if index:
                members.append(Reverse())
            net = CouplingMLP(half, half, config.hidden_features, config.n_hidden_layers)
            members.append(AffineCoupling(2, net, mode="additive"))
        if config.scaling:
            members.append(Scale((2, pixels // 2)))
        members += [Inverse(Squeeze(2, spatial_dims=1)), Inverse(members[0])]
        self.flow = Flow(Chain(*members), base_distribution(config.prior))

    @classmethod
    def from_config(cls, config: NICEConfig) -> NICE:
        return cls(config)
