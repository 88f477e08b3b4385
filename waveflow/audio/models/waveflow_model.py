"""WaveFlow (Ping et al., ICML 2020): a flow autoregressive along a short axis of the audio.

The model is COMPOSED from :mod:`waveflow.bijectors`:

* audio ``[B, T]`` is viewed as ``[B, 1, T]``, grouped by ``Squeeze(h, 1)`` into ``[B, h,
  T/h]`` and turned by ``ChannelsToAxis`` into the one-channel matrix ``[B, 1, h, T/h]``:
  column ``j`` holds the consecutive samples ``j h .. j h + h - 1`` (row ``i`` of column ``j``
  is sample ``j h + i``; WaveFlow's column-major squeeze), ``h = n_group``;
* flow ``k`` is an :class:`AxisAutoregressiveAffine` along the height (dim 2) whose network is
  a :class:`~waveflow.audio.models.height_wavenet.HeightCausalWaveNet` (dilated 2-D convs, causal
  along the height, non-causal along time), followed by an :class:`AxisPermutation` of the
  rows: ``permutation: reverse`` reverses them after every flow;
  ``reverse_then_bipartite`` (the paper's choice for 8 flows) reverses them after the first
  half of the flows and, after the second half, reverses the upper and the lower half of the
  rows separately;
* the matrix is flattened back (the inverses of the two reshapes), so ``z`` is ``[B, T]``,
  scored by the Gaussian prior ``N(0, sigma^2)``.

Density (training, ``forward``) is one parallel pass of every network; synthesis
(``inverse``) runs each flow's network ``h`` times, once per row, on whole rows of ``T/h``
columns, so its cost does not grow with ``T`` sample by sample.

The mel ``[B, n_mel, F]`` is interpolated to the column rate by WaveGlow's
:class:`~waveflow.audio.models.conditioning.InterpolatingUpsampler` (``[B, n_mel, T/h]``) and
broadcast over the rows: with ``h <= hop_length`` a column spans a fraction of a mel frame.

Likelihood: as WaveGlow's, ``nats_per_sample`` is the exact NLL per audio sample
(:func:`waveflow.audio.models.waveglow.likelihood_metrics`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from waveflow.audio.models.conditioning import InterpolatingUpsampler
from waveflow.audio.models.height_wavenet import HeightCausalWaveNet
from waveflow.audio.models.waveglow import check_audio, check_mel, likelihood_metrics
from waveflow.bijectors import (
    AxisAutoregressiveAffine,
    AxisPermutation,
    Bijector,
    Chain,
    ChannelsToAxis,
    Flow,
    Inverse,
    Squeeze,
)
from waveflow.errors import WaveflowError

Permutation = Literal["reverse", "reverse_then_bipartite"]
PERMUTATIONS = get_args(Permutation)


@dataclass
class WaveFlowConfig:
    """Hyper-parameters of :class:`WaveFlow`; the defaults are the paper's 5.9M-parameter model
    (``h = n_group = 16``, 8 flows of 8 layers of 64 channels: 5.94M parameters here)."""

    n_mel_channels: int = 80
    n_group: int = 16
    n_flows: int = 8
    n_layers: int = 8
    n_channels: int = 64
    kernel_size: int = 3
    hop_length: int = 256
    permutation: Permutation = "reverse_then_bipartite"

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "permutation":
                if value not in PERMUTATIONS:
                    raise WaveflowError(
                        f"WaveFlow config: permutation must be one of {', '.join(PERMUTATIONS)}, "
                        f"got {value!r}"
                    )
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WaveflowError(
                    f"WaveFlow config: {name} must be a positive integer, got {value!r}"
                )
        if self.kernel_size % 2 != 1:
            raise WaveflowError(f"WaveFlow config: kernel_size must be odd, got {self.kernel_size}")
        if self.n_group < 2:
            raise WaveflowError(
                f"WaveFlow config: n_group (the height h) must be >= 2, got {self.n_group}"
            )
        if self.hop_length % self.n_group:
            raise WaveflowError(
                f"WaveFlow config: hop_length ({self.hop_length}) must be a multiple of "
                f"n_group ({self.n_group}) so that every output length is groupable"
            )


def row_permutation(k: int, cfg: WaveFlowConfig) -> list[int]:
    """The permutation of the ``h`` rows after flow ``k`` (see the module docstring)."""
    h = cfg.n_group
    if cfg.permutation == "reverse" or k < cfg.n_flows // 2:
        return list(range(h - 1, -1, -1))
    half = h // 2
    return list(range(half - 1, -1, -1)) + list(range(h - 1, half - 1, -1))


def build_height_flows(cfg: WaveFlowConfig) -> Chain:
    """The flows on the ``[B, 1, h, T/h]`` matrix: autoregressive affine + row permutation."""
    steps: list[Bijector] = []
    for k in range(cfg.n_flows):
        net = HeightCausalWaveNet(
            1, cfg.n_mel_channels, cfg.n_layers, cfg.n_channels, cfg.kernel_size, cfg.n_group
        )
        flow = AxisAutoregressiveAffine(1, net, axis=2)
        steps.append(Chain(flow, AxisPermutation(row_permutation(k, cfg))))
    return Chain(*steps)


class WaveFlow(nn.Module):
    """The WaveFlow vocoder; the interface of :class:`~waveflow.audio.models.waveglow.WaveGlow`.

    ``model(audio [B, T], mel [B, n_mel, F]) -> (z [B, T], logdet [B])`` maps audio to the
    latent (the engine's forward); ``inverse(z, mel)`` maps back; ``log_prob``/``nll`` score
    audio; ``infer(mel)`` synthesises ``F * hop_length`` samples per mel.
    """

    def __init__(self, config: WaveFlowConfig | None = None, **fields: Any) -> None:
        super().__init__()
        if config is not None and fields:
            raise WaveflowError(
                "WaveFlow: pass either a WaveFlowConfig or keyword fields, not both"
            )
        if config is None:
            names = {f.name for f in dataclasses.fields(WaveFlowConfig)}
            unknown = sorted(set(fields) - names)
            if unknown:
                raise WaveflowError(
                    f"WaveFlow: unknown option(s) {', '.join(unknown)} "
                    f"(valid: {', '.join(sorted(names))})"
                )
            config = WaveFlowConfig(**fields)
        cfg = self.config = config
        self.upsample = InterpolatingUpsampler(cfg.n_mel_channels, cfg.hop_length, cfg.n_group)
        group = Squeeze(cfg.n_group, spatial_dims=1)
        to_matrix = Chain(group, ChannelsToAxis())
        self.flow = Flow(Chain(to_matrix, build_height_flows(cfg), Inverse(to_matrix)))

    @classmethod
    def from_config(cls, cfg: WaveFlowConfig) -> WaveFlow:
        return cls(cfg)

    def check_mel(self, mel: Any) -> None:
        """Raise a WaveflowError unless ``mel`` is a finite ``[B, n_mel_channels, F >= 1]``."""
        check_mel(mel, self.config.n_mel_channels, "WaveFlow")

    def _check_audio(self, audio: Any, mel: Tensor, what: str = "audio") -> None:
        check_audio(audio, mel, self.config.hop_length, self.config.n_group, "WaveFlow", what)

    def condition(self, mel: Tensor, length: int) -> Tensor:
        """The column conditioning ``[B, n_mel, length / h]`` of ``mel [B, M, F]``."""
        return self.upsample(mel, length)

    def forward(self, audio: Tensor, mel: Tensor) -> tuple[Tensor, Tensor]:
        """``audio [B, T]``, ``mel [B, M, F]`` (``T <= F * hop``) -> ``(z [B, T], logdet [B])``."""
        self.check_mel(mel)
        self._check_audio(audio, mel)
        z, logdet = self.flow(audio.unsqueeze(1), self.condition(mel, audio.shape[1]))
        return z.squeeze(1), logdet

    def inverse(self, z: Tensor, mel: Tensor) -> tuple[Tensor, Tensor]:
        """``z [B, T]``, ``mel [B, M, F]`` -> ``(audio [B, T], logdet [B])`` (row by row)."""
        self.check_mel(mel)
        self._check_audio(z, mel, what="z")
        audio, logdet = self.flow.inverse(z.unsqueeze(1), self.condition(mel, z.shape[1]))
        return audio.squeeze(1), logdet

    def log_prob(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> Tensor:
        """Exact log-likelihood ``[B]`` in nats of ``audio`` given ``mel``; base N(0, sigma^2)."""
        self.check_mel(mel)
        self._check_audio(audio, mel)
        return self.flow.log_prob(audio.unsqueeze(1), self.condition(mel, audio.shape[1]), sigma)

    def nll(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> dict[str, Tensor]:
        """``{"nats_per_sample", "bits_per_sample", "nvidia_loss"}``; see likelihood_metrics."""
        z, logdet = self(audio, mel)
        return likelihood_metrics(z, logdet, sigma)

    @torch.no_grad()
    def infer(
        self,
        mel: Tensor,
        sigma: float = 0.6,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        chunk_samples: int | None = None,
    ) -> Tensor:
        """Synthesise audio ``[B, F * hop_length]`` from ``mel [B, n_mel, F]`` at temperature
        ``sigma`` (latent ``N(0, sigma^2)`` drawn with ``generator``), in the parameters' dtype.

        WaveFlow synthesises whole utterances in full precision: ``chunk_samples`` and a
        bf16/fp16 ``dtype`` are one-line errors.
        """
        if chunk_samples is not None:
            raise WaveflowError(
                "chunked synthesis (--chunk-samples) is for WaveGlow checkpoints; a WaveFlow "
                "model is synthesised whole"
            )
        if dtype is not None and dtype not in (torch.float32, torch.float64):
            raise WaveflowError(
                f"WaveFlow synthesises in full precision; dtype {dtype} is for WaveGlow checkpoints"
            )
        self.check_mel(mel)
        length = mel.shape[2] * self.config.hop_length
        z = self.flow.sample_latent((mel.shape[0], 1, length), sigma, generator)
        return self.flow.inverse(z, self.condition(mel, length))[0].squeeze(1)
