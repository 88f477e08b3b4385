"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017) on images, composed from the bijector core.

Scale ``i`` of ``n_scales`` works on ``[B, c, s, s]``::

    n_checkerboard x (MaskedCoupling(checkerboard, parity alternating), norm)
    Squeeze(2)                                        # [B, 4c, s/2, s/2]
    n_channelwise x (AffineCoupling(keep first/second alternating), norm)
    Split(4c, 2c, inner=scale i+1)                    # factor out half (fixed N(0,1)/logistic)
    Inverse(Squeeze(2))

and the last scale is ``n_final`` checkerboard couplings only. Couplings are affine with
tanh-bounded scales (``coupling: affine``, mode ``"tanh"``) or additive; their network is the
Glow coupling CNN (:class:`~waveflow.image.coupling_net.CouplingNet`). ``norm`` is the
normalisation after every coupling: ``batch`` (RealNVP's batch norm, running averages in eval
mode), ``act`` (ActNorm) or ``none``. The whole model maps ``x [B, C, H, W]`` to one latent of
the same shape scored by the base (``prior``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    BatchNorm,
    Chain,
    Flow,
    Inverse,
    MaskedCoupling,
    Split,
    Squeeze,
    base_distribution,
    checkerboard_mask,
)
from waveflow.bijectors.base import Bijector
from waveflow.errors import WaveflowError
from waveflow.image.coupling_net import CouplingNet
from waveflow.image.flow_model import ImageFlow
from waveflow.image.pixels import check_n_bits

COUPLING_MODES = {"affine": "tanh", "additive": "additive"}


@dataclasses.dataclass
class RealNVPConfig:
    """The YAML ``model:`` section of ``task: realnvp`` (defaults: a small CIFAR-10-shaped
    model; the presets in recipes/fashion_mnist/conf/ set Fashion-MNIST sizes)."""

    in_channels: int = 3
    image_size: int = 32
    n_bits: int = 8
    n_scales: int = 2
    n_checkerboard: int = 3
    n_channelwise: int = 3
    n_final: int = 4
    hidden_channels: int = 64
    coupling: Literal["affine", "additive"] = "affine"
    norm: Literal["batch", "act", "none"] = "batch"
    prior: Literal["gaussian", "logistic"] = "gaussian"

    def __post_init__(self) -> None:
        for name in ("in_channels", "image_size", "n_scales", "n_final", "hidden_channels"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"model.{name} must be > 0, got {getattr(self, name)}")
        for name in ("n_checkerboard", "n_channelwise"):
            if getattr(self, name) < 0:
                raise WaveflowError(f"model.{name} must be >= 0, got {getattr(self, name)}")
        if self.coupling not in COUPLING_MODES:
            raise WaveflowError(
                f"model.coupling must be one of {list(COUPLING_MODES)}, got {self.coupling!r}"
            )
        check_n_bits(self.n_bits)
        if self.image_size % 2**self.n_scales:
            raise WaveflowError(
                f"model.image_size {self.image_size}: checkerboard masks and squeezes need an "
                f"even size at each of the n_scales={self.n_scales} scales (image_size "
                f"divisible by 2^n_scales = {2**self.n_scales})"
            )


class RealNVP(ImageFlow):
    """The RealNVP model; see the module docstring. Build with :meth:`from_config`."""

    def __init__(self, config: RealNVPConfig | None = None) -> None:
        config = config or RealNVPConfig()
        super().__init__("RealNVP", config.in_channels, config.image_size, config.n_bits)
        self.config = config
        self.mode = COUPLING_MODES[config.coupling]
        transform = self._scale(config.in_channels, config.image_size, 0)
        self.flow = Flow(transform, base_distribution(config.prior))

    @classmethod
    def from_config(cls, config: RealNVPConfig) -> RealNVP:
        return cls(config)

    def _norm(self, channels: int) -> list[Bijector]:
        if self.config.norm == "batch":
            return [BatchNorm(channels)]
        return [ActNorm(channels)] if self.config.norm == "act" else []

    def _net(self, in_channels: int, transformed: int) -> CouplingNet:
        out = transformed if self.mode == "additive" else 2 * transformed
        return CouplingNet(in_channels, self.config.hidden_channels, out)

    def _checkerboard(self, c: int, size: int, count: int) -> list[Bijector]:
        members: list[Bijector] = []
        for index in range(count):
            mask = checkerboard_mask(c, size, size, parity=index % 2)
            members += [MaskedCoupling(mask, self._net(c, c), self.mode), *self._norm(c)]
        return members

    def _scale(self, c: int, size: int, index: int) -> Chain:
        cfg = self.config
        if index == cfg.n_scales - 1:
            return Chain(*self._checkerboard(c, size, cfg.n_final))
        members = self._checkerboard(c, size, cfg.n_checkerboard)
        members.append(Squeeze(2, 2))
        for step in range(cfg.n_channelwise):
            keep = "first" if step % 2 == 0 else "second"
            net = self._net(2 * c, 2 * c)
            members += [AffineCoupling(4 * c, net, self.mode, keep), *self._norm(4 * c)]
        inner = self._scale(2 * c, size // 2, index + 1)
        members += [Split(4 * c, 2 * c, inner=inner), Inverse(Squeeze(2, 2))]
        return Chain(*members)
