"""WaveGlow (Prenger et al. 2019): a mel-conditioned normalizing flow over raw audio.

The model is COMPOSED from :mod:`waveflow.bijectors`; nothing here re-implements a layer:

* audio ``[B, T]`` is viewed as ``[B, 1, T]`` and grouped by ``Squeeze(n_group, 1)`` into
  ``[B, n_group, T / n_group]`` (channel ``k`` holds samples ``t * n_group + k``: NVIDIA's
  ``audio.unfold(1, g, g).permute(0, 2, 1)``);
* flow ``k`` is ``Chain(InvertibleConv1x1(c), AffineCoupling(c, WaveNet(...), "affine"))``;
* every ``n_early_every`` flows (``k % n_early_every == 0, k > 0``, BEFORE flow ``k``'s 1x1
  conv) ``n_early_size`` channels leave the flow through a nested ``Split``; the latent is the
  concatenation [early outputs..., final channels], as in NVIDIA's ``torch.cat(output_audio, 1)``;
* the grouped latent is flattened back with ``Inverse(Squeeze)``, so ``z`` is ``[B, T]`` too.

The mel ``[B, n_mel, F]`` is upsampled by ``ConvTranspose1d(n_mel, n_mel, upsample_kernel,
stride=hop_length)`` to ``(F - 1) * hop + upsample_kernel`` samples, trimmed to the audio length
(``F * hop`` at inference, NVIDIA's ``time_cutoff``) and grouped by the same ``Squeeze`` into the
conditioning ``[B, n_mel * n_group, T / n_group]`` given to every coupling network.

Likelihood. NVIDIA trains on ``loss = (sum z^2 / (2 sigma^2) - sum log_s - sum log|det W|) /
(B T)``, which omits the Gaussian normaliser. The exact negative log-likelihood in nats per
audio sample is ``nll = loss + 0.5 * log(2 pi sigma^2)``; bits per sample are ``nll / ln 2``.
:meth:`WaveGlow.log_prob` and :func:`likelihood_metrics` give both.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from waveflow.audio.upsample import TransposedUpsampler
from waveflow.audio.wavenet import WaveNet, remove_weight_norm
from waveflow.bijectors import (
    AffineCoupling,
    Chain,
    Flow,
    Gaussian,
    Inverse,
    InvertibleConv1x1,
    Split,
    Squeeze,
)
from waveflow.errors import WaveflowError


@dataclass
class WaveGlowConfig:
    """Hyper-parameters of :class:`WaveGlow`; the defaults are NVIDIA's published config.

    ``alternate_coupling=False`` is NVIDIA's ``glow.py`` (every coupling keeps the first half);
    ``True`` reproduces ``glow_old.py``, whose odd flows keep the second half instead.
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

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "alternate_coupling":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
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
        if self.upsample_kernel < self.hop_length:
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


def flow_step(channels: int, cond_channels: int, cfg: WaveGlowConfig, keep: str) -> Chain:
    """One WaveGlow flow: ``Chain(InvertibleConv1x1(c), AffineCoupling(c, WaveNet, affine))``."""
    net = WaveNet(channels // 2, cond_channels, cfg.n_layers, cfg.n_channels, cfg.kernel_size)
    return Chain(
        InvertibleConv1x1(channels),
        AffineCoupling(channels, net, mode="affine", keep=keep),
    )


def build_grouped_flow(cfg: WaveGlowConfig) -> Chain:
    """The flows on grouped audio ``[B, n_group, T/g]``, early outputs as nested ``Split``s."""
    cond_channels = cfg.n_mel_channels * cfg.n_group
    channels = cfg.flow_channels()
    segments: list[list[int]] = []
    for k in range(cfg.n_flows):
        if k == 0 or cfg.is_early_output(k):
            segments.append([])
        segments[-1].append(k)
    inner: Chain | None = None
    for ks in reversed(segments):
        c = channels[ks[0]]
        members: list[nn.Module] = [
            flow_step(
                c, cond_channels, cfg, "second" if cfg.alternate_coupling and k % 2 else "first"
            )
            for k in ks
        ]
        if inner is not None:
            members.append(Split(c, cfg.n_early_size, inner=inner))
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


class WaveGlow(nn.Module):
    """The WaveGlow vocoder; see the module docstring for the layout and the likelihood.

    ``model(audio [B, T], mel [B, n_mel, F]) -> (z [B, T], logdet [B])`` maps audio to the
    latent (the engine's forward); ``inverse(z, mel)`` maps back; ``log_prob``/``nll`` score
    audio; ``infer(mel)`` synthesises ``F * hop_length`` samples per mel.
    """

    def __init__(
        self,
        n_mel_channels: int = 80,
        n_flows: int = 12,
        n_group: int = 8,
        n_early_every: int = 4,
        n_early_size: int = 2,
        n_layers: int = 8,
        n_channels: int = 256,
        kernel_size: int = 3,
        hop_length: int = 256,
        upsample_kernel: int = 1024,
        alternate_coupling: bool = False,
    ) -> None:
        super().__init__()
        cfg = WaveGlowConfig(
            n_mel_channels,
            n_flows,
            n_group,
            n_early_every,
            n_early_size,
            n_layers,
            n_channels,
            kernel_size,
            hop_length,
            upsample_kernel,
            alternate_coupling,
        )
        self.config = cfg
        self.upsample = TransposedUpsampler(n_mel_channels, upsample_kernel, hop_length)
        self.group = Squeeze(n_group, spatial_dims=1)
        self.flow = Flow(Chain(self.group, build_grouped_flow(cfg), Inverse(self.group)))

    @classmethod
    def from_config(cls, cfg: WaveGlowConfig) -> WaveGlow:
        return cls(**asdict(cfg))

    # ----------------------------------------------------------------------------- structure
    def flow_steps(self) -> list[Chain]:
        """The ``n_flows`` flows in forward order, each ``Chain(InvertibleConv1x1, coupling)``."""
        steps: list[Chain] = []
        node: Chain | None = self.flow.transform[1]
        while node is not None:
            inner = None
            for member in node:
                if isinstance(member, Split):
                    inner = member.inner
                else:
                    steps.append(member)
            node = inner
        return steps

    def remove_weight_norm(self) -> WaveGlow:
        """Fold weight norm into plain weights (same function, faster inference); in place."""
        remove_weight_norm(self)
        return self

    # ---------------------------------------------------- receptive field (chunked synthesis)
    def flow_context(self) -> int:
        """Grouped columns on each side that the chain of flows reads to produce one column.

        Every coupling output at column ``t`` reads its kept half and the conditioning within
        its net's receptive field; 1x1 convs, splits and squeezes are per column. Composed over
        the flows the reaches add: ``n_flows * 255`` columns for the published model.
        """
        return sum(net.receptive_field() for net in self.modules() if isinstance(net, WaveNet))

    def upsampler_context(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` beyond ``[a, b)`` that the conditioning of samples
        ``[a * hop, b * hop)`` reads.

        The transposed conv (kernel ``K``, stride ``hop``, no padding) gives sample ``s`` the
        frames ``f`` with ``f * hop <= s < f * hop + K``: ``ceil((K - hop) / hop)`` frames on
        the left (3 for the published 1024 / 256), none on the right.
        """
        kernel, hop = self.upsample.kernel_size[0], self.upsample.stride[0]
        return -(-(kernel - hop) // hop), 0

    def receptive_field(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` of context that an exact chunk needs on each side:
        the flow context rounded up to whole frames plus the upsampler's (99, 96 published)."""
        flow = -(-self.flow_context() * self.config.n_group // self.config.hop_length)
        left, right = self.upsampler_context()
        return flow + left, flow + right

    # ------------------------------------------------------------------------------- checks
    def check_mel(self, mel: Any) -> None:
        """Raise a WaveflowError unless ``mel`` is a finite ``[B, n_mel_channels, F >= 1]``."""
        m = self.config.n_mel_channels
        if not isinstance(mel, Tensor) or not mel.is_floating_point():
            raise WaveflowError("WaveGlow: mel must be a floating-point tensor [B, n_mel, frames]")
        if mel.dim() != 3:
            raise WaveflowError(
                f"WaveGlow: mel must have shape [B, {m}, frames], got {list(mel.shape)}"
            )
        if mel.shape[1] != m:
            raise WaveflowError(
                f"WaveGlow: mel has {mel.shape[1]} channels, the model expects {m} "
                f"(shape {list(mel.shape)})"
            )
        if mel.shape[0] == 0 or mel.shape[2] == 0:
            raise WaveflowError(f"WaveGlow: mel is empty (shape {list(mel.shape)})")
        if not torch.isfinite(mel).all():
            raise WaveflowError("WaveGlow: mel contains NaN or infinite values")

    def _check_audio(self, audio: Any, mel: Tensor, what: str = "audio") -> None:
        g, hop = self.config.n_group, self.config.hop_length
        if not isinstance(audio, Tensor) or audio.dim() != 2:
            shape = list(audio.shape) if isinstance(audio, Tensor) else type(audio).__name__
            raise WaveflowError(f"WaveGlow: {what} must have shape [B, T], got {shape}")
        if audio.shape[0] != mel.shape[0]:
            raise WaveflowError(
                f"WaveGlow: batch sizes differ: {what} {audio.shape[0]}, mel {mel.shape[0]}"
            )
        t, frames = audio.shape[1], mel.shape[2]
        if t == 0 or t % g:
            raise WaveflowError(
                f"WaveGlow: {what} length {t} must be a positive multiple of n_group ({g})"
            )
        if t > frames * hop:
            raise WaveflowError(
                f"WaveGlow: {what} length {t} exceeds frames * hop_length = {frames} * {hop}"
            )
        if not torch.isfinite(audio).all():
            raise WaveflowError(f"WaveGlow: {what} contains NaN or infinite values")

    # ----------------------------------------------------------------------------- the flow
    def condition(self, mel: Tensor, length: int) -> Tensor:
        """Upsample ``mel [B, M, F]`` to ``length`` samples and group: ``[B, M*g, length/g]``
        (``self.group(self.upsample(mel)[:, :, :length])``, computed as one GEMM)."""
        return self.upsample.grouped(mel, length, self.config.n_group)

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
        """Log-density ``[B]`` of the latent ``z [B, T]`` under the prior ``N(0, sigma^2)``;
        ``cond`` (the grouped conditioning of the same samples) is unused by this prior."""
        return self.flow.base.log_prob(z, sigma)

    def log_prob(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> Tensor:
        """Exact log-likelihood ``[B]`` in nats of ``audio`` given ``mel``; base N(0, sigma^2)."""
        z, logdet = self(audio, mel)
        return self.flow.base.log_prob(z, sigma) + logdet

    def nll(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> dict[str, Tensor]:
        """``{"nats_per_sample", "bits_per_sample", "nvidia_loss"}``; see likelihood_metrics."""
        z, logdet = self(audio, mel)
        return likelihood_metrics(z, logdet, sigma)

    # ---------------------------------------------------------------------------- synthesis
    @contextlib.contextmanager
    def _nets_autocast(self, dtype: torch.dtype | None) -> Iterator[None]:
        nets = [module for module in self.modules() if isinstance(module, WaveNet)]
        for net in nets:
            net.autocast_dtype = dtype
        try:
            yield
        finally:
            for net in nets:
                net.autocast_dtype = None

    def low_precision(self, dtype: torch.dtype | None) -> torch.dtype | None:
        """``dtype`` if it asks for bf16/fp16 autocast in synthesis, else None (full precision)."""
        return dtype if dtype is not None and dtype not in (torch.float32, torch.float64) else None

    def synthesis_condition(self, mel: Tensor, length: int, dtype: torch.dtype | None) -> Tensor:
        """:meth:`condition` for synthesis: the upsampler runs under autocast to ``dtype``."""
        low = self.low_precision(dtype)
        with torch.autocast(mel.device.type, dtype=low, enabled=low is not None):
            return self.condition(mel, length)

    def decode(self, z: Tensor, cond: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """Latent ``z [B, T]`` and grouped conditioning ``[B, M*g, T/g]`` -> audio ``[B, T]``.

        ``dtype`` bf16/fp16 runs the coupling networks under autocast; latents, affine maps and
        1x1-conv inverses stay in the model's precision.
        """
        with self._nets_autocast(self.low_precision(dtype)):
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
        default :func:`waveflow.audio.chunked.default_chunk_samples`) with enough context for
        the receptive field, so memory does not grow with the length; see
        :mod:`waveflow.audio.chunked`.
        """
        from waveflow.audio.chunked import synthesize

        self.check_mel(mel)
        return synthesize(
            self, mel, sigma=sigma, generator=generator, dtype=dtype, chunk_samples=chunk_samples
        )
