"""NICE, RealNVP, spline and masked autoregressive flows on 2-D points ``[B, 2]``, composed
from the bijector core.

A point is ``[B, 2]`` (two channels, no trailing dims); every coupling keeps one coordinate and
transforms the other with a :class:`~waveflow.nets.CouplingMLP` of the kept one, and a
:class:`~waveflow.bijectors.Reverse` between couplings swaps the roles (with two coordinates
this is both NICE's alternating masks and RealNVP's). Per coupling:

* ``flow: nice``: additive coupling; one diagonal :class:`~waveflow.bijectors.Scale` at the end
  (NICE's scaling layer); no normalisation.
* ``flow: realnvp``: ``coupling: affine`` (tanh-bounded scales) or ``coupling: spline``
  (:class:`~waveflow.bijectors.SplineCoupling`, ``n_bins`` rational-quadratic bins on
  ``[-tail_bound, tail_bound]`` with linear tails: Neural Spline Flows' RQ-NSF (C)), followed by
  ``norm`` (``batch``: RealNVP's batch norm; ``act``: ActNorm; ``none``).
* ``flow: maf``: :class:`~waveflow.bijectors.MaskedAutoregressive` layers on both coordinates
  (a MADE of ``n_hidden_layers`` x ``hidden_features``), ``coupling: affine`` (MAF) or
  ``coupling: spline`` (RQ-NSF (AR)), with ``norm`` after each.

The base is ``prior``: logistic, Gaussian or a learned diagonal Gaussian ``mixture`` of
``n_components``.
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
    MaskedAutoregressive,
    Reverse,
    Scale,
    SplineCoupling,
    base_distribution,
    spline_net_channels,
)
from waveflow.bijectors.base import Bijector
from waveflow.errors import WaveflowError
from waveflow.nets import CouplingMLP


@dataclasses.dataclass
class Toy2DConfig:
    """The YAML ``model:`` section of ``task: toy2d``."""

    flow: Literal["nice", "realnvp", "maf"] = "realnvp"
    n_couplings: int = 8  # couplings (maf: autoregressive layers)
    hidden_features: int = 64
    n_hidden_layers: int = 2
    coupling: Literal["additive", "affine", "spline"] | None = None  # null: the flow's own
    norm: Literal["batch", "act", "none"] | None = None  # null: batch (realnvp, maf), none (nice)
    scaling: bool | None = None  # NICE's scaling layer; null: on for nice
    prior: Literal["gaussian", "logistic", "mixture"] = "gaussian"
    n_components: int = 8  # prior: mixture only
    n_bins: int = 8  # coupling: spline only
    tail_bound: float = 4.0  # coupling: spline only: the spline's interval [-B, B]

    def __post_init__(self) -> None:
        for name in ("n_couplings", "hidden_features", "n_hidden_layers", "n_components", "n_bins"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"model.{name} must be > 0, got {getattr(self, name)}")
        if not self.tail_bound > 0:
            raise WaveflowError(f"model.tail_bound must be > 0, got {self.tail_bound}")
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
        if self.flow == "maf" and self.coupling == "additive":
            raise WaveflowError(
                "model.coupling: maf transforms are affine or spline, got 'additive'"
            )


class Toy2DFlow(nn.Module):
    """A flow on ``[B, 2]`` points; ``forward(x) -> (z [B, 2], logdet [B])``."""

    def __init__(self, config: Toy2DConfig | None = None) -> None:
        super().__init__()
        config = config or Toy2DConfig()
        self.config = config
        members: list[Bijector] = []
        for index in range(config.n_couplings):
            if index:
                members.append(Reverse())
            members.append(self._layer(config))
            if config.norm == "batch":
                members.append(BatchNorm(2))
            elif config.norm == "act":
                members.append(ActNorm(2))
        if config.scaling:
            members.append(Scale(2))
        base = base_distribution(config.prior, event_shape=(2,), n_components=config.n_components)
        self.flow = Flow(Chain(*members), base)

    @staticmethod
    def _layer(config: Toy2DConfig) -> Bijector:
        """One coupling or autoregressive layer of the config's kind."""
        width, depth = config.hidden_features, config.n_hidden_layers
        spline = dict(num_bins=config.n_bins, bound=config.tail_bound)
        if config.flow == "maf":
            transform = "spline" if config.coupling == "spline" else "affine"
            return MaskedAutoregressive(2, width, depth, transform=transform, **spline)
        if config.coupling == "spline":
            net = CouplingMLP((1,), (spline_net_channels(2, config.n_bins),), width, depth)
            return SplineCoupling(2, net, **spline)
        mode = "additive" if config.coupling == "additive" else "tanh"
        out = (1,) if mode == "additive" else (2,)
        return AffineCoupling(2, CouplingMLP((1,), out, width, depth), mode=mode)

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
