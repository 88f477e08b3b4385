"""Glow (Kingma & Dhariwal, 2018): a multi-scale flow on images composed from the bijector core.

Level ``l`` (``l = 0 .. L-1``) on ``[B, c, h, w]`` is::

    Chain(Squeeze(2, 2),                               # [B, 4c, h/2, w/2]
          K x Chain(ActNorm, permutation, coupling),
          Split(4c, 2c, inner=level l+1, prior_net)    # not on the last level
          | LearnedPrior(4c, top prior)                # last level (learn_top or n_classes)
          Inverse(Squeeze(2, 2)))                      # back to [B, c, h, w]

so the whole model maps ``x [B, C, H, W]`` to one latent ``z`` of the same shape, scored by
the standard Gaussian: ``log p(x) = log N(z; 0, I) + logdet``. Every factored-out half has a
learned Gaussian prior conditioned on the kept half (a zero-initialised 3x3 conv); the top
latent has a learned per-channel prior, plus a label embedding when ``n_classes`` is set.

Data convention: see :mod:`waveflow.image.pixels` (``x`` in ``[-0.5, 0.5]``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    Chain,
    Flow,
    Householder,
    Inverse,
    InvertibleConv1x1,
    LearnedPrior,
    Reverse,
    Shuffle,
    SplineCoupling,
    Split,
    Squeeze,
    spline_net_channels,
)
from waveflow.bijectors.base import Bijector
from waveflow.errors import WaveflowError
from waveflow.image.coupling_net import CouplingNet, ZeroConv2d
from waveflow.image.dequantization import VariationalDequantizer, uniform_log_q
from waveflow.image.pixels import bits_per_dim, check_n_bits, levels_of
from waveflow.image.top_prior import TopPriorNet

COUPLINGS = {"affine": "sigmoid", "additive": "additive", "spline": "spline"}
PERMUTATIONS = ("conv1x1", "householder", "shuffle", "reverse")


@dataclasses.dataclass
class GlowConfig:
    """The YAML ``model:`` section of a Glow experiment (defaults: the paper's CIFAR-10 model).

    ``image_size`` and ``n_bits`` describe the data the density is defined on (square images,
    ``n_bits`` per channel, see :mod:`waveflow.image.pixels`; ``image_size`` null: no default
    sample size). This is the one place where Glow's options are validated (the auxiliary
    classifier's loss weight is a ``loss:`` option: ``waveflow.image.task.GlowLossConfig``).
    """

    in_channels: int = 3
    image_size: int | None = 32
    n_bits: int = 8
    n_levels: int = 3
    n_steps: int = 32
    hidden_channels: int = 512
    coupling: Literal["affine", "additive", "spline"] = "affine"
    permutation: Literal["conv1x1", "householder", "shuffle", "reverse"] = "conv1x1"
    lu: bool = True
    spline_bins: int = 8  # coupling: spline only
    spline_bound: float = 3.0  # coupling: spline only: the interval [-B, B] (linear tails)
    # uniform: x = (levels + U[0,1)) / n_bins - 0.5; variational: learned noise q(u | levels)
    # (Flow++); bits/dim are then the variational bound (waveflow.image.dequantization)
    dequantization: Literal["uniform", "variational"] = "uniform"
    dequant_hidden: int = 32  # variational only: width of q's networks
    dequant_couplings: int = 2  # variational only: checkerboard couplings in q
    learn_top: bool = True
    n_classes: int | None = None

    def __post_init__(self) -> None:
        for name in ("in_channels", "n_levels", "n_steps", "hidden_channels"):
            if getattr(self, name) <= 0:
                raise WaveflowError(f"model.{name} must be > 0, got {getattr(self, name)}")
        if self.n_classes is not None and self.n_classes < 2:
            raise WaveflowError(f"model.n_classes must be >= 2 or null, got {self.n_classes}")
        if self.coupling not in COUPLINGS:
            raise WaveflowError(
                f"model.coupling must be one of {list(COUPLINGS)}, got {self.coupling!r}"
            )
        if self.permutation not in PERMUTATIONS:
            raise WaveflowError(
                f"model.permutation must be one of {list(PERMUTATIONS)}, got {self.permutation!r}"
            )
        if self.spline_bins <= 0 or not self.spline_bound > 0:
            raise WaveflowError(
                f"model.spline_bins and model.spline_bound must be > 0, got {self.spline_bins}, "
                f"{self.spline_bound}"
            )
        if self.dequantization not in ("uniform", "variational"):
            raise WaveflowError(
                "model.dequantization must be 'uniform' or 'variational', got "
                f"{self.dequantization!r}"
            )
        if self.dequantization == "variational":
            if self.image_size is None:
                raise WaveflowError("model.dequantization: variational needs model.image_size")
            for name in ("dequant_hidden", "dequant_couplings"):
                if getattr(self, name) <= 0:
                    raise WaveflowError(f"model.{name} must be > 0, got {getattr(self, name)}")
        check_n_bits(self.n_bits)
        if self.image_size is not None and (
            self.image_size <= 0 or self.image_size % 2**self.n_levels
        ):
            raise WaveflowError(
                f"model.image_size {self.image_size} must be a positive multiple of "
                f"2^n_levels = {2**self.n_levels}"
            )


@dataclasses.dataclass
class GlowLevel:
    """The named parts of one level of a :class:`Glow` (references into its flow)."""

    squeeze: Squeeze
    split: Split | None = None  # every level but the last
    top_prior: LearnedPrior | None = None  # the last level, with learn_top or n_classes


class Glow(nn.Module):
    """The Glow model; see the module docstring for the architecture.

    ``coupling``: ``"affine"`` (AffineCoupling mode ``"sigmoid"``: scale ``sigmoid(h + 2)``),
    ``"additive"`` or ``"spline"`` (:class:`~waveflow.bijectors.SplineCoupling`: ``spline_bins``
    rational-quadratic bins on ``[-spline_bound, spline_bound]``, linear tails).
    ``permutation``: ``"conv1x1"`` (LU-parametrised when ``lu``, else dense), ``"householder"``
    (orthogonal, ``C`` reflections), ``"shuffle"`` or ``"reverse"``. ``image_size`` (optional)
    is the default sample size; ``n_bits`` the data's bit depth used by :meth:`bits_per_dim`
    and for display.
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_levels: int = 3,
        n_steps: int = 32,
        hidden_channels: int = 512,
        coupling: str = "affine",
        permutation: str = "conv1x1",
        lu: bool = True,
        learn_top: bool = True,
        n_classes: int | None = None,
        image_size: int | None = None,
        n_bits: int = 8,
        spline_bins: int = 8,
        spline_bound: float = 3.0,
        dequantization: str = "uniform",
        dequant_hidden: int = 32,
        dequant_couplings: int = 2,
    ) -> None:
        super().__init__()
        config = GlowConfig(
            in_channels=in_channels,
            image_size=image_size,
            n_bits=n_bits,
            n_levels=n_levels,
            n_steps=n_steps,
            hidden_channels=hidden_channels,
            coupling=coupling,  # type: ignore[arg-type]
            permutation=permutation,  # type: ignore[arg-type]
            lu=lu,
            learn_top=learn_top,
            n_classes=n_classes,
            spline_bins=spline_bins,
            spline_bound=spline_bound,
            dequantization=dequantization,  # type: ignore[arg-type]
            dequant_hidden=dequant_hidden,
            dequant_couplings=dequant_couplings,
        )
        self.in_channels = in_channels
        self.n_levels = n_levels
        self.n_steps = n_steps
        self.hidden_channels = hidden_channels
        self.coupling = coupling
        self.permutation = permutation
        self.lu = lu
        self.spline_bins = spline_bins
        self.spline_bound = float(spline_bound)
        self.learn_top = learn_top
        self.n_classes = n_classes
        self.image_size = image_size
        self.n_bits = config.n_bits
        self.top_channels = in_channels * 2 ** (n_levels + 1)
        self.has_top_prior = learn_top or n_classes is not None
        # Named references into the flow (plain list, not registered: the state dict keys stay
        # those of `flow`): one GlowLevel per level, outermost first.
        self.levels: list[GlowLevel] = []
        self.flow = Flow(self._level(in_channels, 0))
        self.dequantization = dequantization
        self.dequantizer = None
        if dequantization == "variational":
            self.dequantizer = VariationalDequantizer(
                in_channels, image_size, self.n_bits, dequant_hidden, dequant_couplings
            )
        self.classifier = None
        if n_classes is not None:
            self.classifier = nn.Linear(self.top_channels, n_classes)
            nn.init.zeros_(self.classifier.weight)
            nn.init.zeros_(self.classifier.bias)

    @classmethod
    def from_config(cls, config: GlowConfig) -> Glow:
        """The model of a config."""
        return cls(**dataclasses.asdict(config))

    # ------------------------------------------------------------------ construction

    def _level(self, channels: int, index: int) -> Chain:
        c = 4 * channels
        level = GlowLevel(squeeze=Squeeze(2, 2))
        self.levels.append(level)
        members: list[Bijector] = [level.squeeze]
        members += [self._step(c) for _ in range(self.n_steps)]
        if index < self.n_levels - 1:
            out = c // 2
            inner = self._level(c - out, index + 1)
            level.split = Split(c, out, inner=inner, prior_net=ZeroConv2d(c - out, 2 * out))
            members.append(level.split)
        elif self.has_top_prior:
            level.top_prior = LearnedPrior(c, TopPriorNet(c, self.learn_top, self.n_classes))
            members.append(level.top_prior)
        members.append(Inverse(level.squeeze))
        return Chain(*members)

    def _step(self, c: int) -> Chain:
        if self.permutation == "conv1x1":
            permutation: Bijector = InvertibleConv1x1(c, lu=self.lu)
        elif self.permutation == "householder":
            permutation = Householder(c, seed=None)
        elif self.permutation == "shuffle":
            permutation = Shuffle(c)
        else:
            permutation = Reverse()
        if self.coupling == "spline":
            net = CouplingNet(
                c // 2, self.hidden_channels, spline_net_channels(c, self.spline_bins)
            )
            coupling = SplineCoupling(c, net, self.spline_bins, self.spline_bound)
            return Chain(ActNorm(c), permutation, coupling)
        mode = COUPLINGS[self.coupling]
        net_out = c // 2 if mode == "additive" else c
        net = CouplingNet(c // 2, self.hidden_channels, net_out)
        return Chain(ActNorm(c), permutation, AffineCoupling(c, net, mode=mode))

    # ----------------------------------------------------------------------- checks

    def _check_input(self, x: Tensor, what: str = "input") -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise WaveflowError(
                f"Glow: expected {what} of shape [B, {self.in_channels}, H, W], got {list(x.shape)}"
            )
        block = 2**self.n_levels
        if x.shape[2] % block or x.shape[3] % block or x.shape[2] == 0 or x.shape[3] == 0:
            raise WaveflowError(
                f"Glow: {what} height and width {list(x.shape[2:])} must be positive multiples "
                f"of 2^n_levels = {block}"
            )
        if not torch.isfinite(x).all():
            raise WaveflowError(f"Glow: {what} contains NaN or inf")

    def labels_to_cond(
        self, y: Tensor | int | None, batch: int, dtype: torch.dtype
    ) -> Tensor | None:
        """Check labels ``y`` (``[B]`` ints, or one int for the whole batch) -> one-hot cond."""
        if self.n_classes is None:
            if y is not None:
                raise WaveflowError("Glow: labels were given but the model is unconditional")
            return None
        if y is None:
            raise WaveflowError(
                f"Glow: labels y are required, the model is class-conditional "
                f"(n_classes={self.n_classes})"
            )
        y = torch.as_tensor(y, device=next(self.parameters()).device)
        if y.dim() == 0:
            y = y.expand(batch)
        if y.dtype.is_floating_point or y.dtype == torch.bool or y.shape != (batch,):
            raise WaveflowError(
                f"Glow: labels must be {batch} integers (shape [{batch}]), got dtype {y.dtype} "
                f"shape {list(y.shape)}"
            )
        if ((y < 0) | (y >= self.n_classes)).any():
            raise WaveflowError(
                f"Glow: labels must be in [0, {self.n_classes - 1}], got values "
                f"{int(y.min())}..{int(y.max())}"
            )
        return F.one_hot(y.long(), self.n_classes).to(dtype)

    # ------------------------------------------------------------------ the flow API

    def forward(
        self, x: Tensor, y: Tensor | int | None = None, with_logits: bool = False
    ) -> tuple[Tensor, ...]:
        """``x [B, C, H, W] -> (z [B, C, H, W], logdet [B])``; with ``with_logits`` also the
        auxiliary classifier's logits ``[B, n_classes]`` (class-conditional models only)."""
        self._check_input(x)
        cond = self.labels_to_cond(y, x.shape[0], x.dtype)
        z, logdet = self.flow(x, cond)
        if not with_logits:
            return z, logdet
        return z, logdet, self.classify(self.top_latent(z, cond))

    def inverse(self, z: Tensor, y: Tensor | int | None = None) -> tuple[Tensor, Tensor]:
        """``z [B, C, H, W] -> (x, logdet [B])`` (log-det of the inverse map)."""
        self._check_input(z, "latent")
        return self.flow.inverse(z, self.labels_to_cond(y, z.shape[0], z.dtype))

    def log_prob(self, x: Tensor, y: Tensor | int | None = None) -> Tensor:
        """Exact ``log p(x | y)`` in nats per image ``[B]`` (density on ``[-0.5, 0.5]^D``)."""
        self._check_input(x)
        return self.flow.log_prob(x, self.labels_to_cond(y, x.shape[0], x.dtype))

    def dequantize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, log q(u | levels) [B])`` for the model's dequantisation: uniform keeps ``x``
        (``log q = 0``); variational draws new noise from ``q`` for the levels of ``x``
        (the bins its values fall in). See :mod:`waveflow.image.dequantization`."""
        if self.dequantizer is None:
            return x, uniform_log_q(x)
        x_new, log_q = self.dequantizer(levels_of(x, self.n_bits))
        return x_new.to(x.dtype), log_q

    def bits_per_dim(
        self, x: Tensor, y: Tensor | int | None = None, n_bits: int | None = None
    ) -> Tensor:
        """Bits/dim ``[B]`` of dequantised images ``x``, including the ``-log(n_bins) * D``
        term (see :mod:`waveflow.image.pixels`); ``n_bits`` defaults to the model's. With
        variational dequantisation this is the variational bound ``-(log p(x) - log q(u))``
        (one draw of ``u``); either way an upper bound on the discrete data's bits/dim."""
        num_dims = math.prod(x.shape[1:])
        x, log_q = self.dequantize(x)
        return bits_per_dim(self.log_prob(x, y) - log_q, num_dims, n_bits or self.n_bits)

    def encode(self, x: Tensor, y: Tensor | int | None = None) -> Tensor:
        """The latent ``z`` of ``x`` (same shape)."""
        return self(x, y)[0]

    def decode(self, z: Tensor, y: Tensor | int | None = None) -> Tensor:
        """The image ``x`` of latent ``z``."""
        return self.inverse(z, y)[0]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        temperature: float = 0.7,
        y: Tensor | int | None = None,
        generator: torch.Generator | None = None,
        image_size: int | tuple[int, int] | None = None,
    ) -> Tensor:
        """``n`` images ``[n, C, H, W]`` (model space ``[-0.5, 0.5]``, not clamped) drawn with
        every latent ~ N(0, temperature^2) (Glow's reduced-temperature sampling); temperature
        0 gives the mode of each prior, deterministically."""
        size = image_size if image_size is not None else self.image_size
        if size is None:
            raise WaveflowError("Glow.sample: pass image_size (the model has no default)")
        height, width = (size, size) if isinstance(size, int) else size
        if n <= 0:
            raise WaveflowError(f"Glow.sample: n must be > 0, got {n}")
        block = 2**self.n_levels
        if height <= 0 or width <= 0 or height % block or width % block:
            raise WaveflowError(
                f"Glow.sample: image size {[height, width]} must be positive multiples of "
                f"2^n_levels = {block}"
            )
        dtype = next(self.parameters()).dtype
        cond = self.labels_to_cond(y, n, dtype)
        shape = (n, self.in_channels, height, width)
        return self.flow.sample(shape, cond, sigma=temperature, generator=generator)

    @torch.no_grad()
    def initialize(self, x: Tensor, y: Tensor | int | None = None) -> None:
        """Data-dependent initialisation of every ActNorm from the batch ``x``."""
        self(x, y)

    # ------------------------------------------------------------- the top latent

    def top_latent(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """The top level's latent before its prior, ``[B, top_channels, H/2^L, W/2^L]``.

        Reads the top part out of ``z`` through each level's squeeze and split (squeezes are
        permutations, a split puts its kept part last) and maps it back through the top prior
        with the same ``cond``.
        """
        h = z
        for level in self.levels:
            h = level.squeeze(h)[0]
            if level.split is not None:
                h = h[:, level.split.out_channels :]
        top_prior = self.levels[-1].top_prior
        return h if top_prior is None else top_prior.inverse(h, cond)[0]

    def classify(self, h_top: Tensor) -> Tensor:
        """Logits ``[B, n_classes]`` of the auxiliary classifier on the top latent (its
        spatial mean, as in Glow)."""
        if self.classifier is None:
            raise WaveflowError("Glow.classify: the model is unconditional (n_classes is None)")
        return self.classifier(h_top.mean(dim=(2, 3)))
