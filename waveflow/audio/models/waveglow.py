"""WaveGlow (Prenger et al. 2019): a mel-conditioned normalizing flow over raw audio.

The model is COMPOSED from :mod:`waveflow.bijectors`; nothing here re-implements a layer:

* audio ``[B, T]`` is viewed as ``[B, 1, T]`` and grouped by ``Squeeze(n_group, 1)`` into
  ``[B, n_group, T / n_group]`` (channel ``k`` holds samples ``t * n_group + k``: NVIDIA's
  ``audio.unfold(1, g, g).permute(0, 2, 1)``);
* flow ``k`` is a :class:`FlowStep`, ``Chain([ActNorm(c)], InvertibleConv1x1(c),
  AffineCoupling(c, WaveNet(...), "affine"))`` whose parts are named (``actnorm``, ``conv``,
  ``coupling``);
* every ``n_early_every`` flows (``k % n_early_every == 0, k > 0``, BEFORE flow ``k``'s 1x1
  conv) ``n_early_size`` channels leave the flow through a nested ``Split``; the latent is the
  concatenation [early outputs..., final channels], as in NVIDIA's ``torch.cat(output_audio, 1)``;
* ``prior: conditional`` scores each early output and the final channels by a Gaussian
  ``N(mean(c), std(c)^2)`` computed from the grouped conditioning ``c`` (and, for an early
  output, the channels that stay) by a zero-initialised :class:`PriorNet`: ``Split``'s
  ``prior_net`` and a final :class:`LearnedPrior`. Sampling at temperature ``sigma`` is then
  ``mean + std * sigma * eps``;
* the grouped latent is flattened back with ``Inverse(Squeeze)``, so ``z`` is ``[B, T]`` too.

The mel ``[B, n_mel, F]`` becomes the grouped conditioning ``[B, cond_channels, T / n_group]``
given to every coupling network through one of the conditioners of
:mod:`waveflow.audio.models.conditioning`: NVIDIA's ``upsampler: transposed`` (a
``ConvTranspose1d(n_mel, n_mel, upsample_kernel, stride=hop_length)`` to the sample rate,
trimmed to the audio length, ``F * hop`` at inference, and grouped: ``n_mel * n_group``
channels) or ``upsampler: interpolate`` (mel interpolated to the column rate plus a 3-tap conv:
``n_mel`` channels; with ``n_group = hop_length`` the columns are the mel frames).

Every option's default is NVIDIA's model, whose checkpoints import exactly
(:mod:`waveflow.audio.formats.nvidia`).

Likelihood. NVIDIA trains on ``loss = (sum z^2 / (2 sigma^2) - sum log_s - sum log|det W|) /
(B T)``, which omits the Gaussian normaliser. The exact negative log-likelihood in nats per
audio sample is ``nll = loss + 0.5 * log(2 pi sigma^2)``; bits per sample are ``nll / ln 2``.
:meth:`WaveGlow.log_prob` and :func:`likelihood_metrics` give both (with a conditional prior
its log-det is part of ``logdet``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from waveflow.audio.models.conditioning import InterpolatingUpsampler, TransposedUpsampler
from waveflow.audio.models.prior_net import PriorNet
from waveflow.audio.models.wavenet import WaveNet, autocast_nets, low_precision, remove_weight_norm
from waveflow.bijectors import (
    ActNorm,
    AffineCoupling,
    Bijector,
    Chain,
    Flow,
    Gaussian,
    Inverse,
    InvertibleConv1x1,
    LappedFold,
    LearnedPrior,
    Split,
    Squeeze,
    dct4_matrix,
)
from waveflow.errors import WaveflowError

Prior = Literal["standard", "conditional"]
Upsampler = Literal["transposed", "interpolate"]
WaveNetConv = Literal["dense", "separable"]
ConvInit = Literal["random", "dct"]
CHOICES: dict[str, tuple[str, ...]] = {
    "conv_init": get_args(ConvInit),
    "prior": get_args(Prior),
    "upsampler": get_args(Upsampler),
    "wavenet_conv": get_args(WaveNetConv),
}
FLAGS = ("alternate_coupling", "actnorm", "lu", "lapped")


@dataclass
class WaveGlowConfig:
    """Hyper-parameters of :class:`WaveGlow`; the defaults are NVIDIA's published config.

    ``alternate_coupling=False`` is NVIDIA's ``glow.py`` (every coupling keeps the first half);
    ``True`` reproduces ``glow_old.py``, whose odd flows keep the second half instead.

    Options beyond NVIDIA's model (each off by default):

    * ``prior: conditional``: the latent is scored by ``N(mean(mel), std(mel)^2)`` instead of
      ``N(0, sigma^2)`` (see the module docstring); starts as the standard prior.
    * ``actnorm``: an ActNorm (data-dependent init on the first batch) before each 1x1 conv.
    * ``lu``: LU-parametrised 1x1 convs (Glow); log|det| is a sum instead of a slogdet.
    * ``upsampler: interpolate``: the interpolating conditioner (``n_mel`` channels, no
      ``upsample_kernel``) instead of NVIDIA's transposed conv (``n_mel * n_group`` channels).
    * ``wavenet_conv: separable``: depthwise-separable dilated convs in the coupling WaveNets.
    * ``conv_init: dct``: the first flow's 1x1 conv starts as the orthonormal DCT-II of the
      ``n_group`` samples of a column (channels = frequencies, lowest first) and the later ones
      as the identity, so the latent starts as the columns' spectra and a conditional prior
      shapes them by the mel from the start. Combine with ``alternate_coupling`` so that the
      couplings take turns on the low and the high half. (NVIDIA: random rotations.)
    * ``lapped``: a :class:`LappedFold` of the audio at the column boundaries before the
      grouping, so the columns are overlapping, sine-windowed frames (512 samples at hop 256
      for ``n_group: 256``) instead of non-overlapping blocks; with ``conv_init: dct`` the
      first 1x1 conv then starts as the DCT-IV of the reversed column, and fold + conv are
      exactly the MDCT. The latent keeps the grouped layout of the folded signal.
    """

    n_mel_channels: int = 80
    n_flows: int = 12
    n_group: int = 8
    n_early_every: int = 4
    n_early_size: int = 2
    n_layers: int = 8
    n_channels: int = 256
    kernel_size: int = 3
    hop_length: int = 256
    upsample_kernel: int = 1024
    alternate_coupling: bool = False
    prior: Prior = "standard"
    actnorm: bool = False
    lu: bool = False
    upsampler: Upsampler = "transposed"
    wavenet_conv: WaveNetConv = "dense"
    conv_init: ConvInit = "random"
    lapped: bool = False

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name in FLAGS:
                if not isinstance(value, bool):
                    raise WaveflowError(
                        f"WaveGlow config: {name} must be true or false, got {value!r}"
                    )
            elif name in CHOICES:
                if value not in CHOICES[name]:
                    raise WaveflowError(
                        f"WaveGlow config: {name} must be one of {', '.join(CHOICES[name])}, "
                        f"got {value!r}"
                    )
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WaveflowError(
                    f"WaveGlow config: {name} must be a positive integer, got {value!r}"
                )
        if self.kernel_size % 2 != 1:
            raise WaveflowError(f"WaveGlow config: kernel_size must be odd, got {self.kernel_size}")
        if self.hop_length % self.n_group:
            raise WaveflowError(
                f"WaveGlow config: hop_length ({self.hop_length}) must be a multiple of "
                f"n_group ({self.n_group}) so that every output length is groupable"
            )
        if self.upsampler == "transposed" and self.upsample_kernel < self.hop_length:
            raise WaveflowError(
                f"WaveGlow config: upsample_kernel ({self.upsample_kernel}) must be >= "
                f"hop_length ({self.hop_length})"
            )
        channels = self.flow_channels()
        if any(c < 2 or c % 2 for c in channels):
            raise WaveflowError(
                f"WaveGlow config: n_group={self.n_group}, n_early_size={self.n_early_size}, "
                f"n_early_every={self.n_early_every}, n_flows={self.n_flows} give flow channel "
                f"counts {channels}; each must be even and >= 2"
            )

    def flow_channels(self) -> list[int]:
        """Channels entering each flow's 1x1 conv (``n_group`` minus the early outputs so far)."""
        return [
            self.n_group - self.n_early_size * (k // self.n_early_every)
            for k in range(self.n_flows)
        ]

    def is_early_output(self, k: int) -> bool:
        """Whether channels leave the flow just before flow ``k`` (NVIDIA's condition)."""
        return k > 0 and k % self.n_early_every == 0

    def cond_channels(self) -> int:
        """Channels of the grouped conditioning seen by the coupling networks and the prior."""
        if self.upsampler == "transposed":
            return self.n_mel_channels * self.n_group
        return self.n_mel_channels


class FlowStep(Chain):
    """One WaveGlow flow, ``Chain([actnorm], conv, coupling)``, with its parts named.

    ``conv`` is the :class:`InvertibleConv1x1`, ``coupling`` the :class:`AffineCoupling` (its
    ``net`` is the WaveNet) and ``actnorm`` the optional :class:`ActNorm` (else ``None``). The
    parameters keep the plain ``Chain`` names, so checkpoints of either class load alike.
    """

    def __init__(
        self, conv: InvertibleConv1x1, coupling: AffineCoupling, actnorm: ActNorm | None = None
    ) -> None:
        super().__init__(*([actnorm] if actnorm is not None else []), conv, coupling)
        self.has_actnorm = actnorm is not None

    @property
    def actnorm(self) -> ActNorm | None:
        return self.bijectors[0] if self.has_actnorm else None

    @property
    def conv(self) -> InvertibleConv1x1:
        return self.bijectors[-2]

    @property
    def coupling(self) -> AffineCoupling:
        return self.bijectors[-1]


def dct_matrix(n: int) -> Tensor:
    """The orthonormal DCT-II ``[n, n]``: row ``k`` is ``cos(pi (i + 1/2) k / n)``, scaled."""
    i = torch.arange(n, dtype=torch.float64)
    matrix = torch.cos(math.pi * (i[None, :] + 0.5) * i[:, None] / n) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix


def first_conv_start(channels: int, lapped: bool) -> Tensor:
    """Flow 0's 1x1-conv matrix for ``conv_init: dct``: the frequency basis of a column.

    DCT-II of the block, or, after a :class:`LappedFold`, DCT-IV of the block read backwards
    (together with the fold: the MDCT). Rows are frequencies, lowest first.
    """
    return dct4_matrix(channels).flip(1) if lapped else dct_matrix(channels)


def flow_step(channels: int, cfg: WaveGlowConfig, keep: str, first: bool = False) -> FlowStep:
    """One WaveGlow flow on ``channels`` channels (see :class:`FlowStep`); ``first``: flow 0."""
    net = WaveNet(
        channels // 2,
        cfg.cond_channels(),
        cfg.n_layers,
        cfg.n_channels,
        cfg.kernel_size,
        separable=cfg.wavenet_conv == "separable",
    )
    conv = InvertibleConv1x1(channels, lu=cfg.lu)
    if cfg.conv_init == "dct":
        conv.set_matrix(first_conv_start(channels, cfg.lapped) if first else torch.eye(channels))
    return FlowStep(
        conv,
        AffineCoupling(channels, net, mode="affine", keep=keep),
        ActNorm(channels) if cfg.actnorm else None,
    )


def build_grouped_flow(cfg: WaveGlowConfig) -> Chain:
    """The flows on grouped audio ``[B, n_group, T/g]``, early outputs as nested ``Split``s."""
    cond = cfg.cond_channels()
    conditional = cfg.prior == "conditional"
    channels = cfg.flow_channels()
    segments: list[list[int]] = []
    for k in range(cfg.n_flows):
        if k == 0 or cfg.is_early_output(k):
            segments.append([])
        segments[-1].append(k)
    inner: Chain | None = None
    for ks in reversed(segments):
        c = channels[ks[0]]
        members: list[Bijector] = [
            flow_step(c, cfg, "second" if cfg.alternate_coupling and k % 2 else "first", k == 0)
            for k in ks
        ]
        if inner is not None:
            out = cfg.n_early_size
            prior_net = PriorNet(c - out + cond, out) if conditional else None
            members.append(Split(c, out, inner=inner, prior_net=prior_net))
        elif conditional:
            members.append(LearnedPrior(c, PriorNet(cond, c)))
        inner = Chain(*members)
    assert inner is not None
    return inner


def likelihood_metrics(z: Tensor, logdet: Tensor, sigma: float = 1.0) -> dict[str, Tensor]:
    """Per-sample likelihood metrics of a batch from the flow output ``z [B, T]``, ``logdet [B]``.

    Returns 0-dim tensors (float32, or float64 for float64 input), means over the batch:
    ``nats_per_sample`` (exact NLL per audio sample, Gaussian normaliser included),
    ``bits_per_sample`` (= nats / ln 2) and ``nvidia_loss`` (NVIDIA's ``WaveGlowLoss``, which
    equals ``nats_per_sample - 0.5 * log(2 pi sigma^2)``).
    """
    dtype = torch.float64 if z.dtype == torch.float64 else torch.float32
    z = z.to(dtype)
    logdet = logdet.to(dtype)
    log_prob = Gaussian(sigma).log_prob(z) + logdet
    nats = -log_prob.mean() / z.shape[1]
    nvidia = ((z * z).sum() / (2 * sigma**2) - logdet.sum()) / z.numel()
    return {"nats_per_sample": nats, "bits_per_sample": nats / math.log(2), "nvidia_loss": nvidia}


def check_mel(mel: Any, n_mel_channels: int, model: str) -> None:
    """Raise a WaveflowError (prefixed ``model``) unless ``mel`` is a finite ``[B, M, F >= 1]``."""
    m = n_mel_channels
    if not isinstance(mel, Tensor) or not mel.is_floating_point():
        raise WaveflowError(f"{model}: mel must be a floating-point tensor [B, n_mel, frames]")
    if mel.dim() != 3:
        raise WaveflowError(f"{model}: mel must have shape [B, {m}, frames], got {list(mel.shape)}")
    if mel.shape[1] != m:
        raise WaveflowError(
            f"{model}: mel has {mel.shape[1]} channels, the model expects {m} "
            f"(shape {list(mel.shape)})"
        )
    if mel.shape[0] == 0 or mel.shape[2] == 0:
        raise WaveflowError(f"{model}: mel is empty (shape {list(mel.shape)})")
    if not torch.isfinite(mel).all():
        raise WaveflowError(f"{model}: mel contains NaN or infinite values")


def check_audio(
    audio: Any, mel: Tensor, hop: int, group: int, model: str, what: str = "audio"
) -> None:
    """Raise a WaveflowError unless ``audio`` is a finite ``[B, T]`` that ``mel`` covers
    (``T <= F * hop``), ``T`` a positive multiple of ``group``."""
    if not isinstance(audio, Tensor) or audio.dim() != 2:
        shape = list(audio.shape) if isinstance(audio, Tensor) else type(audio).__name__
        raise WaveflowError(f"{model}: {what} must have shape [B, T], got {shape}")
    if audio.shape[0] != mel.shape[0]:
        raise WaveflowError(
            f"{model}: batch sizes differ: {what} {audio.shape[0]}, mel {mel.shape[0]}"
        )
    t, frames = audio.shape[1], mel.shape[2]
    if t == 0 or t % group:
        raise WaveflowError(
            f"{model}: {what} length {t} must be a positive multiple of n_group ({group})"
        )
    if t > frames * hop:
        raise WaveflowError(
            f"{model}: {what} length {t} exceeds frames * hop_length = {frames} * {hop}"
        )
    if not torch.isfinite(audio).all():
        raise WaveflowError(f"{model}: {what} contains NaN or infinite values")



class WaveGlow(nn.Module):
    """The WaveGlow vocoder; see the module docstring for the layout and the likelihood.

    ``model(audio [B, T], mel [B, n_mel, F]) -> (z [B, T], logdet [B])`` maps audio to the
    latent (the engine's forward); ``inverse(z, mel)`` maps back; ``log_prob``/``nll`` score
    audio; ``infer(mel)`` synthesises ``F * hop_length`` samples per mel.
    """

    def __init__(self, config: WaveGlowConfig | None = None, **fields: Any) -> None:
        """``WaveGlow(config)`` or ``WaveGlow(**fields)`` (keywords of :class:`WaveGlowConfig`)."""
        super().__init__()
        if config is not None and fields:
            raise WaveflowError(
                "WaveGlow: pass either a WaveGlowConfig or keyword fields, not both"
            )
        if config is None:
            names = {f.name for f in dataclasses.fields(WaveGlowConfig)}
            unknown = sorted(set(fields) - names)
            if unknown:
                raise WaveflowError(
                    f"WaveGlow: unknown option(s) {', '.join(unknown)} "
                    f"(valid: {', '.join(sorted(names))})"
                )
            config = WaveGlowConfig(**fields)
        cfg = self.config = config
        if cfg.upsampler == "transposed":
            self.upsample: nn.Module = TransposedUpsampler(
                cfg.n_mel_channels, cfg.hop_length, cfg.upsample_kernel, cfg.n_group
            )
        else:
            self.upsample = InterpolatingUpsampler(cfg.n_mel_channels, cfg.hop_length, cfg.n_group)
        self.group = Squeeze(cfg.n_group, spatial_dims=1)
        # with `lapped` the first link is Chain(fold, group): the flows keep their names
        grouping = Chain(LappedFold(cfg.n_group), self.group) if cfg.lapped else self.group
        self.flow = Flow(Chain(grouping, build_grouped_flow(cfg), Inverse(self.group)))

    @classmethod
    def from_config(cls, cfg: WaveGlowConfig) -> WaveGlow:
        return cls(cfg)

    # ----------------------------------------------------------------------------- structure
    def flow_steps(self) -> list[FlowStep]:
        """The ``n_flows`` :class:`FlowStep`s in forward order (outer flows before nested ones)."""
        return [m for m in self.flow.modules() if isinstance(m, FlowStep)]

    def remove_weight_norm(self) -> WaveGlow:
        """Fold weight norm into plain weights (same function, faster inference); in place."""
        remove_weight_norm(self)
        return self

    # ---------------------------------------------------- receptive field (chunked synthesis)
    def flow_context(self) -> int:
        """Grouped columns on each side that the chain of flows reads to produce one column.

        Every coupling output at column ``t`` reads its kept half and the conditioning within
        its net's receptive field; 1x1 convs, splits and squeezes are per column. Composed over
        the flows the reaches add: ``n_flows * 255`` columns for the published model (plus one
        column per prior network of a conditional prior, and one for a ``lapped`` fold, which
        reads half a column across each column edge).
        """
        fold = 1 if self.config.lapped else 0
        return fold + sum(
            net.receptive_field()
            for net in self.modules()
            if isinstance(net, (WaveNet, PriorNet))
        )

    def upsampler_context(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` beyond ``[a, b)`` that the conditioning of samples
        ``[a * hop, b * hop)`` reads (the conditioner's ``context_frames``; ``(3, 0)`` for the
        published transposed conv)."""
        return self.upsample.context_frames()

    def receptive_field(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` of context that an exact chunk needs on each side:
        the flow context rounded up to whole frames plus the upsampler's (99, 96 published)."""
        flow = -(-self.flow_context() * self.config.n_group // self.config.hop_length)
        left, right = self.upsampler_context()
        return flow + left, flow + right

    # ------------------------------------------------------------------------------- checks
    def check_mel(self, mel: Any) -> None:
        """Raise a WaveflowError unless ``mel`` is a finite ``[B, n_mel_channels, F >= 1]``."""
        check_mel(mel, self.config.n_mel_channels, "WaveGlow")

    def _check_audio(self, audio: Any, mel: Tensor, what: str = "audio") -> None:
        check_audio(audio, mel, self.config.hop_length, self.config.n_group, "WaveGlow", what)

    # ----------------------------------------------------------------------------- the flow
    def condition(self, mel: Tensor, length: int) -> Tensor:
        """The grouped conditioning ``[B, cond_channels, length/g]`` of ``mel [B, M, F]``."""
        return self.upsample(mel, length)

    def forward(self, audio: Tensor, mel: Tensor) -> tuple[Tensor, Tensor]:
        """``audio [B, T]``, ``mel [B, M, F]`` (``T <= F * hop``) -> ``(z [B, T], logdet [B])``."""
        self.check_mel(mel)
        self._check_audio(audio, mel)
        cond = self.condition(mel, audio.shape[1])
        z, logdet = self.flow(audio.unsqueeze(1), cond)
        return z.squeeze(1), logdet

    def inverse(self, z: Tensor, mel: Tensor) -> tuple[Tensor, Tensor]:
        """``z [B, T]``, ``mel [B, M, F]`` -> ``(audio [B, T], logdet [B])`` (latent to data)."""
        self.check_mel(mel)
        self._check_audio(z, mel, what="z")
        cond = self.condition(mel, z.shape[1])
        audio, logdet = self.flow.inverse(z.unsqueeze(1), cond)
        return audio.squeeze(1), logdet

    def latent_log_prob(self, z: Tensor, cond: Tensor, sigma: float = 1.0) -> Tensor:
        """Log-density ``[B]`` of the flow's latent ``z [B, T]`` under the base ``N(0, sigma^2)``.

        A conditional prior is a bijection inside the flow (its log-det is in the flow's), so
        ``cond`` (the grouped conditioning of the same samples) is not needed here."""
        return self.flow.latent_log_prob(z, z.new_zeros(z.shape[0]), sigma)

    def log_prob(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> Tensor:
        """Exact log-likelihood ``[B]`` in nats of ``audio`` given ``mel``; base N(0, sigma^2)."""
        self.check_mel(mel)
        self._check_audio(audio, mel)
        return self.flow.log_prob(audio.unsqueeze(1), self.condition(mel, audio.shape[1]), sigma)

    def nll(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> dict[str, Tensor]:
        """``{"nats_per_sample", "bits_per_sample", "nvidia_loss"}``; see likelihood_metrics."""
        z, logdet = self(audio, mel)
        return likelihood_metrics(z, logdet, sigma)

    # ---------------------------------------------------------------------------- synthesis
    def synthesis_condition(self, mel: Tensor, length: int, dtype: torch.dtype | None) -> Tensor:
        """:meth:`condition` for synthesis: the upsampler runs under autocast to ``dtype``."""
        low = low_precision(dtype, mel.device)
        with torch.autocast(mel.device.type, dtype=low, enabled=low is not None):
            return self.condition(mel, length)

    def decode(self, z: Tensor, cond: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """Latent ``z [B, T]`` and grouped conditioning ``[B, M*g, T/g]`` -> audio ``[B, T]``.

        ``dtype`` bf16/fp16 runs the coupling networks under autocast; latents, affine maps and
        1x1-conv inverses stay in the model's precision.
        """
        with autocast_nets(self, low_precision(dtype, z.device)):
            return self.flow.inverse(z.unsqueeze(1), cond)[0].squeeze(1)

    @torch.no_grad()
    def infer(
        self,
        mel: Tensor,
        sigma: float = 0.6,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        chunk_samples: int | None = None,
    ) -> Tensor:
        """Synthesise audio ``[B, F * hop_length]`` from ``mel [B, n_mel, F]``.

        The latent is drawn from ``N(0, sigma^2)`` (``sigma=0``: the mode) with ``generator``
        (which must live on the model's device) in the model's parameter dtype, block by block
        in time order, so the result does not depend on ``chunk_samples``. ``dtype``
        ``torch.bfloat16``/``torch.float16`` runs the upsampler and the coupling networks under
        ``torch.autocast``; latents, affine maps and 1x1-conv inverses stay in full precision.
        The result has the model's parameter dtype.

        Long mels are synthesised in exact chunks of ``chunk_samples`` (a multiple of the hop;
        default :func:`waveflow.audio.models.chunked.default_chunk_samples`) with enough context for
        the receptive field, so memory does not grow with the length; see
        :mod:`waveflow.audio.models.chunked`.
        """
        from waveflow.audio.models.chunked import synthesize

        self.check_mel(mel)
        return synthesize(
            self, mel, sigma=sigma, generator=generator, dtype=dtype, chunk_samples=chunk_samples
        )
