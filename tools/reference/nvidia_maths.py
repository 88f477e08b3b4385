"""Test-only reference of NVIDIA's WaveGlow maths, with NVIDIA's module and attribute names.

An independent, deliberately plain implementation of the published equations (grouping by
unfold, 1x1 convs, WaveNet-like coupling nets, early outputs, NVIDIA's loss and inference), used
to build checkpoints in NVIDIA's exact layouts without NVIDIA's code:

* ``WaveGlow`` / ``WN`` / ``Invertible1x1Conv`` pickle as ``glow.*`` (current layout: fused
  ``cond_layer``, fused ``res_skip_layers``);
* ``OldWaveGlow`` / ``OldWN`` pickle as ``glow_old.WaveGlow`` / ``glow_old.WN`` (per-layer
  ``cond_layers``, separate ``res_layers`` and ``skip_layers``; odd flows keep the second half).

:func:`save_nvidia_checkpoint` registers the fake ``glow``/``glow_old`` modules only while
saving, so loading must work without them; :func:`hub_checkpoint` gives the torch.hub /
DeepLearningExamples ``{"state_dict", "config"}`` layout.
"""

from __future__ import annotations

import contextlib
import sys
import types
import warnings
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _weight_norm(conv: nn.Conv1d) -> nn.Conv1d:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the classic hook API is deprecated but still used
        return nn.utils.weight_norm(conv, name="weight")


def _gate(a: Tensor, n: int) -> Tensor:
    return torch.tanh(a[:, :n]) * torch.sigmoid(a[:, n:])


class Invertible1x1Conv(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c, c, kernel_size=1, bias=False)
        w = torch.linalg.qr(torch.randn(c, c))[0]
        if torch.det(w) < 0:
            w[:, 0] = -w[:, 0]
        self.conv.weight.data = w[:, :, None].clone()

    def forward(self, z: Tensor, reverse: bool = False):
        w = self.conv.weight[:, :, 0]
        if reverse:
            return F.conv1d(z, torch.linalg.inv(w)[:, :, None])
        return self.conv(z), z.shape[0] * z.shape[2] * torch.logdet(w)


class WN(nn.Module):
    def __init__(self, n_in, n_mel, n_layers, n_channels, kernel_size):
        super().__init__()
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.start = _weight_norm(nn.Conv1d(n_in, n_channels, 1))
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)  # NVIDIA zero-inits; tests randomise
        self.cond_layer = _weight_norm(nn.Conv1d(n_mel, 2 * n_channels * n_layers, 1))
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            d = 2**i
            self.in_layers.append(
                _weight_norm(
                    nn.Conv1d(
                        n_channels,
                        2 * n_channels,
                        kernel_size,
                        dilation=d,
                        padding=d * (kernel_size - 1) // 2,
                    )
                )
            )
            out = 2 * n_channels if i < n_layers - 1 else n_channels
            self.res_skip_layers.append(_weight_norm(nn.Conv1d(n_channels, out, 1)))

    def forward(self, forward_input):
        audio, spect = forward_input
        n = self.n_channels
        audio = self.start(audio)
        spect = self.cond_layer(spect)
        output = 0
        for i in range(self.n_layers):
            acts = _gate(self.in_layers[i](audio) + spect[:, 2 * n * i : 2 * n * (i + 1)], n)
            rs = self.res_skip_layers[i](acts)
            if i < self.n_layers - 1:
                audio = audio + rs[:, :n]
                output = output + rs[:, n:]
            else:
                output = output + rs
        return self.end(output)


class OldWN(nn.Module):
    def __init__(self, n_in, n_mel, n_layers, n_channels, kernel_size):
        super().__init__()
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.start = _weight_norm(nn.Conv1d(n_in, n_channels, 1))
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)
        self.in_layers = nn.ModuleList()
        self.cond_layers = nn.ModuleList()
        self.res_layers = nn.ModuleList()
        self.skip_layers = nn.ModuleList()
        for i in range(n_layers):
            d = 2**i
            self.in_layers.append(
                _weight_norm(
                    nn.Conv1d(
                        n_channels,
                        2 * n_channels,
                        kernel_size,
                        dilation=d,
                        padding=d * (kernel_size - 1) // 2,
                    )
                )
            )
            self.cond_layers.append(_weight_norm(nn.Conv1d(n_mel, 2 * n_channels, 1)))
            if i < n_layers - 1:
                self.res_layers.append(_weight_norm(nn.Conv1d(n_channels, n_channels, 1)))
            self.skip_layers.append(_weight_norm(nn.Conv1d(n_channels, n_channels, 1)))

    def forward(self, forward_input):
        audio, spect = forward_input
        audio = self.start(audio)
        output = 0
        for i in range(self.n_layers):
            acts = _gate(self.in_layers[i](audio) + self.cond_layers[i](spect), self.n_channels)
            if i < self.n_layers - 1:
                audio = audio + self.res_layers[i](acts)
            output = output + self.skip_layers[i](acts)
        return self.end(output)


class WaveGlow(nn.Module):
    wn_class = WN
    alternate = False  # glow_old: odd flows condition on the second half

    def __init__(
        self, n_mel_channels, n_flows, n_group, n_early_every, n_early_size, WN_config,
        hop_length=256, upsample_kernel=1024,
    ):  # fmt: skip
        super().__init__()
        self.upsample = nn.ConvTranspose1d(
            n_mel_channels, n_mel_channels, upsample_kernel, stride=hop_length
        )
        self.n_flows = n_flows
        self.n_group = n_group
        self.n_early_every = n_early_every
        self.n_early_size = n_early_size
        self.WN = nn.ModuleList()
        self.convinv = nn.ModuleList()
        remaining = n_group
        for k in range(n_flows):
            if k % n_early_every == 0 and k > 0:
                remaining -= n_early_size
            self.convinv.append(Invertible1x1Conv(remaining))
            self.WN.append(self.wn_class(remaining // 2, n_mel_channels * n_group, **WN_config))
        self.n_remaining_channels = remaining

    def _grouped_spect(self, spect: Tensor, length: int) -> Tensor:
        spect = self.upsample(spect)[:, :, :length]
        b, m, _ = spect.shape
        spect = spect.unfold(2, self.n_group, self.n_group).permute(0, 2, 1, 3)
        return spect.reshape(b, -1, m * self.n_group).permute(0, 2, 1)

    def _halves(self, audio: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """(conditioning half, transformed half)."""
        a, b = audio.chunk(2, dim=1)
        return (b, a) if self.alternate and k % 2 else (a, b)

    def _join(self, kept: Tensor, moved: Tensor, k: int) -> Tensor:
        return torch.cat([moved, kept] if self.alternate and k % 2 else [kept, moved], 1)

    def forward(self, forward_input):
        spect, audio = forward_input
        spect = self._grouped_spect(spect, audio.shape[1])
        audio = audio.unfold(1, self.n_group, self.n_group).permute(0, 2, 1)
        outputs, log_s_list, log_det_w_list = [], [], []
        for k in range(self.n_flows):
            if k % self.n_early_every == 0 and k > 0:
                outputs.append(audio[:, : self.n_early_size])
                audio = audio[:, self.n_early_size :]
            audio, log_det_w = self.convinv[k](audio)
            log_det_w_list.append(log_det_w)
            kept, moved = self._halves(audio, k)
            out = self.WN[k]((kept, spect))
            half = kept.shape[1]
            log_s, b = out[:, half:], out[:, :half]
            log_s_list.append(log_s)
            audio = self._join(kept, torch.exp(log_s) * moved + b, k)
        outputs.append(audio)
        return torch.cat(outputs, 1), log_s_list, log_det_w_list

    def infer(self, spect, sigma=1.0):
        length = spect.shape[2] * self.upsample.stride[0]
        spect = self._grouped_spect(spect, length)
        shape = (spect.shape[0], self.n_remaining_channels, spect.shape[2])
        audio = sigma * torch.randn(shape, dtype=spect.dtype, device=spect.device)
        for k in reversed(range(self.n_flows)):
            kept, moved = self._halves(audio, k)
            out = self.WN[k]((kept, spect))
            half = kept.shape[1]
            audio = self._join(kept, (moved - out[:, :half]) / torch.exp(out[:, half:]), k)
            audio = self.convinv[k](audio, reverse=True)
            if k % self.n_early_every == 0 and k > 0:
                early = torch.randn(
                    spect.shape[0], self.n_early_size, spect.shape[2], device=spect.device
                )
                audio = torch.cat([sigma * early.to(spect.dtype), audio], 1)
        return audio.permute(0, 2, 1).reshape(audio.shape[0], -1)


class OldWaveGlow(WaveGlow):
    wn_class = OldWN
    alternate = True


for _cls, _module, _name in [
    (Invertible1x1Conv, "glow", "Invertible1x1Conv"),
    (WN, "glow", "WN"),
    (WaveGlow, "glow", "WaveGlow"),
    (OldWN, "glow_old", "WN"),
    (OldWaveGlow, "glow_old", "WaveGlow"),
]:
    _cls.__module__, _cls.__qualname__, _cls.__name__ = _module, _name, _name


def nvidia_loss(outputs, sigma: float = 1.0) -> Tensor:
    """NVIDIA's ``WaveGlowLoss``: (sum z^2 / 2 sigma^2 - sum log_s - sum log|det W|) / numel."""
    z, log_s_list, log_det_w_list = outputs
    total = (z * z).sum() / (2 * sigma * sigma)
    total = total - sum(s.sum() for s in log_s_list) - sum(log_det_w_list)
    return total / z.numel()


def make_reference(old: bool = False, seed: int = 0, **overrides) -> WaveGlow:
    """A tiny NVIDIA-layout model with random (non-identity) coupling output convs."""
    torch.manual_seed(seed)
    config = dict(
        n_mel_channels=6, n_flows=4, n_group=4, n_early_every=2, n_early_size=2,
        WN_config={"n_layers": 2, "n_channels": 8, "kernel_size": 3},
        hop_length=8, upsample_kernel=32,
    )  # fmt: skip
    config.update(overrides)
    model = (OldWaveGlow if old else WaveGlow)(**config)
    with torch.no_grad():
        for wn in model.WN:
            wn.end.weight.normal_(0, 0.2)
            wn.end.bias.normal_(0, 0.1)
    return model.eval()


@contextlib.contextmanager
def _fake_nvidia_modules() -> Iterator[None]:
    saved = {name: sys.modules.get(name) for name in ("glow", "glow_old")}
    glow, glow_old = types.ModuleType("glow"), types.ModuleType("glow_old")
    glow.WaveGlow, glow.WN, glow.Invertible1x1Conv = WaveGlow, WN, Invertible1x1Conv
    glow_old.WaveGlow, glow_old.WN = OldWaveGlow, OldWN
    sys.modules.update(glow=glow, glow_old=glow_old)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def save_nvidia_checkpoint(model: WaveGlow, path, legacy: bool = False) -> None:
    """``torch.save({"model": model, ...})`` as NVIDIA's train.py does (zip or legacy format)."""
    with _fake_nvidia_modules(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(
            {"model": model, "iteration": 1, "optimizer": None, "learning_rate": 1e-4},
            path,
            _use_new_zipfile_serialization=not legacy,
        )


def hub_checkpoint(model: WaveGlow) -> dict:
    """The DeepLearningExamples layout of a current-layout model: ``module.``-prefixed keys,
    per-layer ``cond_layers.i`` (rows of the fused ``cond_layer``) and a config dict."""
    state = {}
    for key, value in model.state_dict().items():
        parts = key.split(".")
        if len(parts) > 2 and parts[2] == "cond_layer":
            n = model.WN[int(parts[1])].n_channels
            for i, rows in enumerate(value.split(2 * n)):
                state[f"module.WN.{parts[1]}.cond_layers.{i}.{parts[3]}"] = rows.clone()
        else:
            state[f"module.{key}"] = value
    wn = model.WN[0]
    config = {
        "n_mel_channels": model.upsample.in_channels,
        "n_flows": model.n_flows,
        "n_group": model.n_group,
        "n_early_every": model.n_early_every,
        "n_early_size": model.n_early_size,
        "WN_config": {
            "n_layers": wn.n_layers,
            "n_channels": wn.n_channels,
            "kernel_size": wn.in_layers[0].kernel_size[0],
        },
    }
    return {"state_dict": state, "config": config}
