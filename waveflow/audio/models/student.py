"""A mel-conditioned IAF student vocoder (Parallel WaveNet, van den Oord et al. 2018).

The audio ``[B, T]`` is viewed as ``[B, 1, T]``; the flow is ``Chain`` of ``n_flows``
:class:`~waveflow.bijectors.AutoregressiveAffine` layers, each with a causal
:class:`~waveflow.audio.models.wavenet.WaveNet` (``causal=True``) conditioned on the mel
upsampled to one frame per audio sample by WaveGlow's
:class:`~waveflow.audio.models.conditioning.TransposedUpsampler` (groups of 1 sample)
(``[B, n_mel, T]``). The base is ``N(0, sigma^2)``.

* ``model(z, mel, reverse=True) -> (audio, logdet)``: SAMPLING, one parallel pass per flow
  (``logdet`` = log|det d audio / d z|, so ``log q(audio) = log N(z) - logdet``);
* ``model(audio, mel) -> (z, logdet)``: DENSITY, sequential in time (``T`` network calls per
  flow, each on a window of the network's receptive field): exact but slow, for tests and
  short clips;
* ``infer(mel)`` synthesises ``F * hop_length`` samples like :meth:`WaveGlow.infer`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from waveflow.audio.models.conditioning import TransposedUpsampler
from waveflow.audio.models.waveglow import check_audio, check_mel
from waveflow.audio.models.wavenet import WaveNet, autocast_nets, low_precision, remove_weight_norm
from waveflow.bijectors import AutoregressiveAffine, Chain, Flow
from waveflow.errors import WaveflowError


@dataclass
class IAFStudentConfig:
    """Hyper-parameters of :class:`IAFStudent` (YAML ``model:`` of ``task: distill``).

    Parallel WaveNet's student has 4 flows of 10, 10, 10 and 30 layers of 64 channels; here
    every flow has ``n_layers`` layers of ``n_channels`` channels (kernel ``kernel_size``,
    dilations ``1, 2, ..., 2**(n_layers - 1)``).
    """

    n_mel_channels: int = 80
    n_flows: int = 4
    n_layers: int = 8
    n_channels: int = 64
    kernel_size: int = 3
    hop_length: int = 256
    upsample_kernel: int = 1024

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WaveflowError(f"model.{name} must be a positive integer, got {value!r}")
        if self.kernel_size % 2 != 1:
            raise WaveflowError(f"model.kernel_size must be odd, got {self.kernel_size}")
        if self.upsample_kernel < self.hop_length:
            raise WaveflowError(
                f"model.upsample_kernel ({self.upsample_kernel}) must be >= "
                f"model.hop_length ({self.hop_length})"
            )


class IAFStudent(nn.Module):
    """The IAF student vocoder; see the module docstring."""

    def __init__(self, config: IAFStudentConfig) -> None:
        super().__init__()
        cfg = config
        self.config = cfg
        self.upsample = TransposedUpsampler(
            cfg.n_mel_channels, cfg.hop_length, cfg.upsample_kernel, n_group=1
        )
        self.flow = Flow(
            Chain(
                *(
                    AutoregressiveAffine(
                        1,
                        WaveNet(
                            1,
                            cfg.n_mel_channels,
                            cfg.n_layers,
                            cfg.n_channels,
                            cfg.kernel_size,
                            causal=True,
                        ),
                    )
                    for _ in range(cfg.n_flows)
                )
            )
        )

    def remove_weight_norm(self) -> IAFStudent:
        """Fold weight norm into plain weights (same function, faster inference); in place."""
        remove_weight_norm(self)
        return self

    def forward(self, x: Tensor, mel: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
        """``reverse=False``: audio ``[B, T]`` -> ``(z, logdet)`` (sequential density pass);
        ``reverse=True``: z ``[B, T]`` -> ``(audio, logdet)`` (parallel sampling pass).
        ``mel [B, M, F]`` must cover ``T <= F * hop_length`` samples."""
        check_mel(mel, self.config.n_mel_channels, "IAFStudent")
        check_audio(x, mel, self.config.hop_length, 1, "IAFStudent", "z" if reverse else "audio")
        cond = self.upsample(mel, x.shape[1])
        run = self.flow.inverse if reverse else self.flow
        y, logdet = run(x.unsqueeze(1), cond)
        return y.squeeze(1), logdet

    def log_prob(self, audio: Tensor, mel: Tensor, sigma: float = 1.0) -> Tensor:
        """Exact log-likelihood ``[B]`` in nats of ``audio`` (sequential: slow for long clips)."""
        z, logdet = self(audio, mel)
        return self.flow.latent_log_prob(z, logdet, sigma)

    @torch.no_grad()
    def infer(
        self,
        mel: Tensor,
        sigma: float = 0.6,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Synthesise ``[B, F * hop_length]`` from ``mel [B, n_mel, F]`` in one parallel pass
        per flow; the arguments are those of :meth:`WaveGlow.infer`."""
        check_mel(mel, self.config.n_mel_channels, "IAFStudent")
        weight = self.upsample.weight
        mel = mel.to(device=weight.device, dtype=weight.dtype)
        length = mel.shape[2] * self.config.hop_length
        z = self.flow.sample_latent((mel.shape[0], 1, length), sigma, generator)
        low = low_precision(dtype, weight.device)
        with torch.autocast(weight.device.type, dtype=low, enabled=low is not None):
            cond = self.upsample(mel, length)
        with autocast_nets(self, low):
            audio = self.flow.inverse(z, cond)[0]
        return audio.squeeze(1)
