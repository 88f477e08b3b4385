"""Tiny WaveGlow configs (``TINY``; ``CONFIGS``: the published layout and the presets' options),
perturbed tiny vocoders and the model as a bijector on audio, shared by WaveGlow tests."""

from __future__ import annotations

import torch

from waveflow.audio.models.prior_net import PriorNet
from waveflow.audio.models.waveglow import WaveGlow

TINY = dict(
    n_mel_channels=5, n_flows=4, n_group=4, n_early_every=2, n_early_size=2,
    n_layers=2, n_channels=8, kernel_size=3, hop_length=8, upsample_kernel=16,
)  # fmt: skip

# Tiny models with the published layout (early outputs, NVIDIA's WN) and its variants.
CONFIGS = {
    "published-layout": dict(
        n_mel_channels=8, n_flows=4, n_group=8, n_early_every=2, n_early_size=2, n_layers=2,
        n_channels=8, hop_length=16, upsample_kernel=64,
    ),
    "glow_old-alternating": dict(
        n_mel_channels=6, n_flows=3, n_group=4, n_early_every=2, n_early_size=2, n_layers=3,
        n_channels=8, kernel_size=5, hop_length=8, upsample_kernel=32, alternate_coupling=True,
    ),
    "light-layout": dict(  # recipes/ljspeech/conf/light.yaml's options at a tiny size
        n_mel_channels=8, n_flows=3, n_group=16, n_early_every=8, n_early_size=2, n_layers=2,
        n_channels=8, hop_length=16, upsampler="interpolate", wavenet_conv="separable",
        prior="conditional", lu=True, actnorm=True, conv_init="dct",
    ),
    "fast-lapped-layout": dict(  # recipes/ljspeech/conf/fast.yaml's options, lapped columns
        n_mel_channels=8, n_flows=4, n_group=16, n_early_every=8, n_early_size=2, n_layers=2,
        n_channels=8, hop_length=16, upsampler="interpolate", prior="conditional", lu=True,
        conv_init="dct", alternate_coupling=True, lapped=True,
    ),
}  # fmt: skip


def make_vocoder(config: dict, seed: int = 0) -> WaveGlow:
    """A WaveGlow whose couplings (and priors, ActNorms) are not the identity."""
    torch.manual_seed(seed)
    model = WaveGlow(**config)
    with torch.no_grad():
        mel = torch.randn(2, config["n_mel_channels"], 6)
        model(0.1 * torch.randn(2, 6 * config["hop_length"]), mel)  # data-dependent init
        for step in model.flow_steps():
            step.coupling.net.end.weight.normal_(0, 0.3)
            step.coupling.net.end.bias.normal_(0, 0.1)
        for module in model.modules():
            if isinstance(module, PriorNet):
                module.conv.weight.normal_(0, 0.05)
    return model.eval()


class FixedMel(torch.nn.Module):
    """The model as a bijector on audio [B, 1, T] for a fixed mel (for assert_bijective)."""

    def __init__(self, model: WaveGlow, mel: torch.Tensor) -> None:
        super().__init__()
        self.model, self.mel = model, mel

    def forward(self, x, cond=None):
        z, logdet = self.model(x[:, 0], self.mel[: x.shape[0]] if cond is None else cond)
        return z[:, None], logdet

    def inverse(self, y, cond=None):
        x, logdet = self.model.inverse(y[:, 0], self.mel[: y.shape[0]] if cond is None else cond)
        return x[:, None], logdet
