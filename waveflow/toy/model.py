"""NICE and RealNVP on 2-D points ``[B, 2]``, composed from the bijector core.

A point is ``[B, 2]`` (two channels, no trailing dims); every coupling keeps one coordinate and
transforms the other with a :class:`~waveflow.nets.CouplingMLP` of the kept one, and a
:class:`~waveflow.bijectors.Reverse` between couplings swaps the roles (with two coordinates
this is both NICE's alternating masks and RealNVP's). Per coupling:

* ``flow: nice``: additive coupling; one diagonal :class:`~waveflow.bijectors.Scale` at the end
  (NICE's scaling layer); no normalisation.
* ``flow: realnvp``: affine coupling with tanh-bounded scales, followed by ``norm``
  (``batch``: RealNVP's batch norm; ``act``: ActNorm; ``none``).

The base is ``prior`` (logistic or Gaussian).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import Tensor, nn

from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    BatchNorm,
    Chain,
    Flow,
    Reverse,
    Scale,
    base_distribution,
)
from waveflow.bijectors.base import Bijector
from waveflow.errors import WaveflowError
from waveflow.nets import CouplingMLP


@dataclasses.dataclass
class Toy2DConfig:
    """The YAML ``model:`` section of ``task: toy2d``."""

    flow: Literal["nice", "realnvp"] = "realnvp"
    n_couplings: int = 8
    hidden_features: int = 64
    n_hidden_layers: int = 2
    coupling: Literal["additive", "affine"] | None = None  # null: the flow's own
    norm: Literal["batch", "act", "none"] | None = None  # null: batch (realnvp), none (nice)
    scaling: bool | None = None  # NICE's scaling layer; null: on for nice
    prior: Literal["gaussian", "logistic"] = "gaussian"

    def __post_init__(self) -> None:
        for name in ("n_couplings", "hidden_features", "n_hidden_layers"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"model.{name} must be > 0, got {getattr(self, name)}")
        nice = self.flow == "nice"
        if self.coupling is None:
            self.coupling = "additive" if nice else "affine"
        if self.norm is None:
            self.norm = "none" if nice else "batch"
        if self.scaling is None:
            self.scaling = nice
        if nice and self.coupling != "additive":
            raise WaveflowError(
                f"model.coupling: NICE uses additive coupling, got {self.coupling!r}; use "
                "flow: realnvp for learned affine coupling"
            )
        if nice and self.norm != "none":
            raise WaveflowError(
                f"model.norm: NICE has no normalisation layers, got {self.norm!r}; use flow: "
                "realnvp for batch or act norm"
            )


class Toy2DFlow(nn.Module):
    """A flow on ``[B, 2]`` points; ``forward(x) -> (z [B, 2], logdet [B])``."""

    def __init__(self, config: Toy2DConfig | None = None) -> None:
        super().__init__()
        config = config or Toy2DConfig()
        self.config = config
        mode = "additive" if config.coupling == "additive" else "tanh"
        members: list[Bijector] = []
        for index in range(config.n_couplings):
            if index:
                members.append(Reverse())
            out = (1,) if mode == "additive" else (2,)
            net = CouplingMLP((1,), out, config.hidden_features, config.n_hidden_layers)
            members.append(AffineCoupling(2, net, mode=mode))
            if config.norm == "batch":
                members.append(BatchNorm(2))
            elif config.norm == "act":
                members.append(ActNorm(2))
        if config.scaling:
            members.append(Scale(2))
        self.flow = Flow(Chain(*members), base_distribution(config.prior))

    @classmethod
    def from_config(cls, config: Toy2DConfig) -> Toy2DFlow:
        return cls(config)

    @staticmethod
    def _check(x: Tensor, what: str) -> None:
        if x.dim() != 2 or x.shape[1] != 2:
            raise WaveflowError(f"Toy2DFlow: expected {what} of shape [B, 2], got {list(x.shape)}")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x, "points")
        return self.flow(x)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` in nats per point ``[B]``."""
        z, logdet = self(x)
        return self.flow.latent_log_prob(z, logdet)

    @torch.no_grad()
    def sample(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """``n`` points ``[n, 2]`` from latents drawn at ``temperature``."""
        if n <= 0:
            raise WaveflowError(f"Toy2DFlow.sample: n must be > 0, got {n}")
        return self.flow.sample((n, 2), sigma=temperature, generator=generator)

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Data-dependent initialisation (ActNorm) from the batch ``x``."""
        self(x)
