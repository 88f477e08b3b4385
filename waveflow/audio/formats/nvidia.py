"""Import NVIDIA WaveGlow checkpoints into :class:`waveflow.audio.models.waveglow.WaveGlow`.

Supported layouts (all auto-detected):

* NVIDIA/waveglow training checkpoints: ``torch.load(p)["model"]`` is a pickled
  ``glow.WaveGlow`` (``WN.k.cond_layer`` fused, ``WN.k.res_skip_layers.i``) or an older
  ``glow_old.WaveGlow`` (per-layer ``WN.k.cond_layers.i``, separate ``res_layers.i`` and
  ``skip_layers.i``, or ``res_skip_layers.i`` after NVIDIA's ``convert_model.py``). The odd
  flows of ``glow_old`` models keep the second half in the coupling
  (``alternate_coupling=True``).
* torch.hub / DeepLearningExamples: ``{"state_dict": {"module.WN.0...": ...}, "config": ...}``
  with per-layer ``cond_layers.i`` and ``res_skip_layers.i``.
* zip (torch >= 1.6) and legacy (older) serialisations alike.

Files are read with :mod:`waveflow.audio.formats.safe_unpickle`: NVIDIA's classes become inert
stand-ins and any other global is refused, so no code from the file runs and NVIDIA's code is
not needed. Hyper-parameters are inferred from tensor shapes (hop length from the pickled
upsampler's stride when present, else 256) and checked for consistency; every problem is one
:class:`~waveflow.errors.WaveflowError`. Weight-normed convs map ``weight_g``/``weight_v`` to
the weight-norm parameters (plain ``weight`` tensors are re-normalised); per-layer
conditioning and residual/skip convs are concatenated along the output channels, which is
exact because weight norm is per output channel.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from waveflow.audio.formats import safe_unpickle
from waveflow.audio.models.waveglow import WaveGlow, WaveGlowConfig
from waveflow.checkpoint import describe_load_error
from waveflow.errors import WaveflowError
from waveflow.inputs import regular_file

DEFAULT_HOP_LENGTH = 256


def read_restricted(path: str | os.PathLike[str]) -> Any:
    """Unpickle a torch checkpoint onto the CPU with the restricted unpickler."""
    path = regular_file(path, "checkpoint")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(
                path, map_location="cpu", pickle_module=safe_unpickle, weights_only=False
            )
    except safe_unpickle.RefusedGlobal as err:
        raise WaveflowError(
            f"refusing to load {path}: it references the Python global {err.global_name!r}, "
            "which is not a tensor, container or WaveGlow module (nothing was executed)"
        ) from err
    except Exception as err:  # torch/pickle raise many types for damaged files
        raise WaveflowError(f"cannot load checkpoint {path}: {describe_load_error(err)}") from err


def pickled_module_state(obj: Any, prefix: str = "") -> dict[str, Tensor]:
    """The ``state_dict`` of an unpickled module tree of :class:`PickledObject` stand-ins."""
    state: dict[str, Tensor] = {}
    for attr in ("_parameters", "_buffers"):
        for name, value in (getattr(obj, attr, None) or {}).items():
            if isinstance(value, Tensor):
                state[prefix + name] = value.detach()
    for name, child in (getattr(obj, "_modules", None) or {}).items():
        if child is not None:
            state.update(pickled_module_state(child, f"{prefix}{name}."))
    return state


def _strip_module_prefix(state: dict[str, Any]) -> dict[str, Tensor]:
    stripped = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise WaveflowError(
                f"state_dict entry {key!r} is a {type(value).__name__}, not a tensor"
            )
        stripped[re.sub(r"^(module\.(1\.)?)+", "", key)] = value
    return stripped


def extract_nvidia_state(ckpt: Any, source: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(NVIDIA-named state_dict, hints)`` from an unpickled checkpoint of a supported layout.

    ``hints`` may hold ``hop_length`` (the pickled upsampler's stride), ``alternate_coupling``
    (``glow_old`` class) and ``config`` (the hub checkpoint's config dict).
    """
    root = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if isinstance(root, safe_unpickle.PickledObject):
        if root.pickled_name != "WaveGlow":
            raise WaveflowError(f"{source}: the pickled model is a {root!r}, not a WaveGlow")
        hints: dict[str, Any] = {"alternate_coupling": root.pickled_module.endswith("glow_old")}
        upsample = (getattr(root, "_modules", None) or {}).get("upsample")
        stride = getattr(upsample, "stride", None)
        if isinstance(stride, (tuple, list)) and stride and isinstance(stride[0], int):
            hints["hop_length"] = stride[0]
        return pickled_module_state(root), hints
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        config = ckpt.get("config")
        return _strip_module_prefix(ckpt["state_dict"]), {
            "config": config if isinstance(config, dict) else None
        }
    if isinstance(ckpt, dict) and isinstance(ckpt.get("model"), dict):
        return _strip_module_prefix(ckpt["model"]), {}
    found = sorted(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
    raise WaveflowError(
        f"{source} is not an NVIDIA WaveGlow checkpoint: expected {{'model': WaveGlow}} or "
        f"{{'state_dict', 'config'}}, found {found}"
    )


class _StateReader:
    """Hands out tensors of an NVIDIA state dict by name, with clear errors; tracks usage."""

    def __init__(self, state: dict[str, Tensor], source: str) -> None:
        self.state = state
        self.source = source
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.state

    def get(self, key: str) -> Tensor:
        if key not in self.state:
            raise WaveflowError(f"{self.source}: missing tensor {key!r}")
        self.used.add(key)
        return self.state[key]

    def weight_norm(self, prefix: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(g, v, bias)`` of a weight-normed conv (a plain ``weight`` is re-normalised)."""
        if self.has(f"{prefix}.weight_v"):
            g, v = self.get(f"{prefix}.weight_g"), self.get(f"{prefix}.weight_v")
        else:
            v = self.get(f"{prefix}.weight")
            g = torch.linalg.vector_norm(v.double(), dim=(1, 2), keepdim=True).to(v.dtype)
        return g, v, self.get(f"{prefix}.bias")

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        return len({m.group(1) for key in self.state if (m := regex.match(key))})

    def unused(self) -> list[str]:
        return sorted(set(self.state) - self.used)


def _shape(reader: _StateReader, key: str) -> tuple[int, ...]:
    if reader.has(key):
        return tuple(reader.state[key].shape)
    return tuple(reader.get(f"{key}_v").shape) if key.endswith("weight") else ()


def infer_nvidia_config(
    reader: _StateReader, hints: dict[str, Any], hop_length: int | None = None
) -> WaveGlowConfig:
    """Hyper-parameters from tensor shapes; checked against the hub config when present."""
    src = reader.source
    upsample = tuple(reader.get("upsample.weight").shape)
    if len(upsample) != 3 or upsample[0] != upsample[1]:
        raise WaveflowError(
            f"{src}: upsample.weight has shape {list(upsample)}, expected [M, M, K]"
        )
    n_flows = reader.count(r"^WN\.(\d+)\.")
    n_convs = reader.count(r"^convinv\.(\d+)\.")
    if n_flows == 0 or n_convs != n_flows:
        raise WaveflowError(
            f"{src}: found {n_flows} WN blocks and {n_convs} convinv "
            "layers; expected the same positive number"
        )
    channels = [reader.get(f"convinv.{k}.conv.weight").shape[0] for k in range(n_flows)]
    drops = [
        (k, channels[k - 1] - channels[k])
        for k in range(1, n_flows)
        if channels[k] != channels[k - 1]
    ]
    n_early_every, n_early_size = drops[0] if drops else (n_flows, 2)
    start = _shape(reader, "WN.0.start.weight")
    in_layer = _shape(reader, "WN.0.in_layers.0.weight")
    if len(start) != 3 or len(in_layer) != 3:
        raise WaveflowError(f"{src}: WN.0.start / WN.0.in_layers.0 weights are missing or not 3-D")
    try:
        cfg = WaveGlowConfig(
            n_mel_channels=upsample[0],
            n_flows=n_flows,
            n_group=channels[0],
            n_early_every=n_early_every,
            n_early_size=n_early_size,
            n_layers=reader.count(r"^WN\.0\.in_layers\.(\d+)\."),
            n_channels=start[0],
            kernel_size=in_layer[2],
            hop_length=hop_length or hints.get("hop_length") or DEFAULT_HOP_LENGTH,
            upsample_kernel=upsample[2],
            alternate_coupling=bool(hints.get("alternate_coupling", False)),
        )
    except WaveflowError as err:
        raise WaveflowError(f"{src}: inferred an invalid configuration: {err}") from err
    if cfg.flow_channels() != channels:
        raise WaveflowError(
            f"{src}: the 1x1 conv sizes {channels} do not follow a regular early-output "
            f"pattern (every {n_early_every} flows, {n_early_size} channels)"
        )
    _check_hub_config(cfg, hints.get("config"), src)
    return cfg


def _check_hub_config(cfg: WaveGlowConfig, config: dict[str, Any] | None, src: str) -> None:
    if not config:
        return
    stated = {k: v for k, v in config.items() if k != "WN_config"}
    stated.update(config.get("WN_config") or {})
    inferred = {
        "n_mel_channels": cfg.n_mel_channels,
        "n_flows": cfg.n_flows,
        "n_group": cfg.n_group,
        "n_layers": cfg.n_layers,
        "n_channels": cfg.n_channels,
        "kernel_size": cfg.kernel_size,
    }
    if cfg.n_early_every < cfg.n_flows:
        inferred.update(n_early_every=cfg.n_early_every, n_early_size=cfg.n_early_size)
    mismatches = [
        f"{key}={stated[key]!r} (tensors say {value})"
        for key, value in inferred.items()
        if key in stated and stated[key] != value
    ]
    if mismatches:
        raise WaveflowError(
            f"{src}: the stored config disagrees with the weights: {', '.join(mismatches)}"
        )


def _assign(target: Tensor, value: Tensor, name: str, src: str) -> None:
    value = value.reshape(target.shape) if value.numel() == target.numel() else value
    if value.shape != target.shape:
        raise WaveflowError(
            f"{src}: {name} has shape {list(value.shape)}, expected {list(target.shape)}"
        )
    with torch.no_grad():
        target.copy_(value.to(target.dtype))


def _assign_weight_normed(
    conv: nn.Module, parts: list[tuple[Tensor, Tensor, Tensor]], name: str, src: str
) -> None:
    """Load ``conv`` from one or more ``(g, v, bias)`` blocks stacked along output channels."""
    g, v, bias = (torch.cat(block) for block in zip(*parts, strict=True))
    weight = conv.parametrizations.weight
    _assign(weight.original0, g, f"{name} weight_g", src)
    _assign(weight.original1, v, f"{name} weight_v", src)
    _assign(conv.bias, bias, f"{name} bias", src)


def _load_wavenet(net: nn.Module, reader: _StateReader, prefix: str, n_layers: int) -> None:
    src = reader.source
    _assign_weight_normed(
        net.start, [reader.weight_norm(f"{prefix}.start")], f"{prefix}.start", src
    )
    if reader.has(f"{prefix}.cond_layer.bias"):
        cond = [reader.weight_norm(f"{prefix}.cond_layer")]
    else:
        cond = [reader.weight_norm(f"{prefix}.cond_layers.{i}") for i in range(n_layers)]
    _assign_weight_normed(net.cond_layer, cond, f"{prefix}.cond_layer(s)", src)
    for i in range(n_layers):
        name = f"{prefix}.in_layers.{i}"
        _assign_weight_normed(net.in_layers[i], [reader.weight_norm(name)], name, src)
        if reader.has(f"{prefix}.res_skip_layers.{i}.bias"):
            parts = [reader.weight_norm(f"{prefix}.res_skip_layers.{i}")]
        else:
            skip = reader.weight_norm(f"{prefix}.skip_layers.{i}")
            parts = (
                [reader.weight_norm(f"{prefix}.res_layers.{i}"), skip]
                if i < n_layers - 1
                else [skip]
            )
        _assign_weight_normed(net.res_skip_layers[i], parts, f"{prefix}.res_skip_layers.{i}", src)
    _assign(net.end.weight, reader.get(f"{prefix}.end.weight"), f"{prefix}.end.weight", src)
    _assign(net.end.bias, reader.get(f"{prefix}.end.bias"), f"{prefix}.end.bias", src)


def waveglow_from_nvidia_state(
    state: dict[str, Tensor],
    hints: dict[str, Any] | None = None,
    source: str = "checkpoint",
    hop_length: int | None = None,
) -> WaveGlow:
    """Build a :class:`WaveGlow` computing the same function as the NVIDIA weights ``state``."""
    reader = _StateReader(state, source)
    cfg = infer_nvidia_config(reader, hints or {}, hop_length)
    model = WaveGlow.from_config(cfg).float()
    _assign(model.upsample.weight, reader.get("upsample.weight"), "upsample.weight", source)
    _assign(model.upsample.bias, reader.get("upsample.bias"), "upsample.bias", source)
    for k, step in enumerate(model.flow_steps()):
        conv = reader.get(f"convinv.{k}.conv.weight")
        _assign(step.conv.weight, conv, f"convinv.{k}.conv.weight", source)
        _load_wavenet(step.coupling.net, reader, f"WN.{k}", cfg.n_layers)
    unused = reader.unused()
    if unused:
        shown = ", ".join(unused[:5]) + (" ..." if len(unused) > 5 else "")
        raise WaveflowError(
            f"{source}: {len(unused)} unexpected tensor(s) in the checkpoint: {shown}"
        )
    return model.eval()


def load_nvidia_waveglow(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    hop_length: int | None = None,
) -> WaveGlow:
    """Load an NVIDIA WaveGlow checkpoint (any supported layout) as an eval-mode WaveGlow.

    ``hop_length`` overrides the hop (default: the pickled upsampler's stride, else 256).
    """
    ckpt = read_restricted(path)
    state, hints = extract_nvidia_state(ckpt, str(path))
    model = waveglow_from_nvidia_state(state, hints, str(path), hop_length)
    return model.to(map_location)
