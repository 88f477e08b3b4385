"""WaveGlow's coupling network: a WaveNet-like stack conditioned on the mel (optionally causal).

``WaveNet(n_in, n_cond, n_layers, n_channels, kernel_size, separable=False)`` maps the kept
half of the grouped audio ``x [B, n_in, T']`` and the grouped mel ``cond [B, n_cond, T']`` to
``[B, 2 * n_in, T']`` = [shift, log-scale pre-activation], the layout that
:class:`waveflow.bijectors.AffineCoupling` expects. Layer names (``start``, ``in_layers``,
``cond_layer``, ``res_skip_layers``, ``end``) follow NVIDIA's ``WN`` so that checkpoints map
one to one:

* ``start``: 1x1 conv ``n_in -> n_channels`` (weight norm);
* layer ``i``: dilated conv ``n_channels -> 2 n_channels`` (kernel ``kernel_size``, dilation
  ``2**i``, "same" padding, weight norm) plus the slice ``[2 n_channels i, 2 n_channels (i+1))``
  of ONE fused conditioning projection ``cond_layer: n_cond -> 2 n_channels n_layers`` (1x1,
  weight norm); gated activation ``tanh(a[:, :n]) * sigmoid(a[:, n:])``;
* ``res_skip_layers[i]``: 1x1 conv (weight norm) to ``2 n_channels`` (residual first, skip
  second) for all but the last layer, which only has ``n_channels`` skip outputs;
* ``separable=True`` (not NVIDIA's): each dilated conv is depthwise-separable, a depthwise
  dilated conv ``n_channels -> n_channels`` (``groups=n_channels``) then a 1x1 conv to
  ``2 n_channels``, both weight-normed (``in_layers[i]`` is then a ``Sequential`` of the two);
  about ``kernel_size`` times fewer multiply-adds in those layers;
* ``end``: 1x1 conv ``n_channels -> 2 n_in`` without weight norm, zero-initialised so that a
  fresh coupling is the identity.

Weight norm is ``torch.nn.utils.parametrizations.weight_norm`` (``weight = g v / ||v||`` per
output channel); :func:`remove_weight_norm` folds it into plain weights for inference.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from waveflow.bijectors.base import weights_key
from waveflow.device import native_low_precision


def weight_normed_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 1,
    dilation: int = 1,
    groups: int = 1,
    causal: bool = False,
) -> nn.Conv1d:
    """A weight-normed ``Conv1d`` with "same" padding (odd kernel), or, ``causal``, padding
    ``dilation * (kernel_size - 1)`` on both ends, so that its first ``T`` outputs are causal."""
    padding = dilation * (kernel_size - 1) // (1 if causal else 2)
    conv = nn.Conv1d(
        in_channels, out_channels, kernel_size, dilation=dilation, padding=padding, groups=groups
    )
    return weight_norm(conv, name="weight")


def dilated_layer(
    n_channels: int, kernel_size: int, dilation: int, separable: bool, causal: bool = False
) -> nn.Module:
    """The dilated conv ``n_channels -> 2 n_channels`` of one layer, dense or separable."""
    if not separable:
        return weight_normed_conv(n_channels, 2 * n_channels, kernel_size, dilation, causal=causal)
    return nn.Sequential(
        weight_normed_conv(
            n_channels, n_channels, kernel_size, dilation, groups=n_channels, causal=causal
        ),
        weight_normed_conv(n_channels, 2 * n_channels),
    )


class WaveNet(nn.Module):
    """``net(x [B, n_in, T'], cond [B, n_cond, T']) -> [B, 2 n_in, T']``; see the module doc.

    ``receptive_field()`` is the reach on each side of an output (see there). ``causal=True``
    trims the right end of every dilated convolution, so that the output at ``t`` sees only the
    inputs ``t - causal_window + 1 .. t``: the network of an autoregressive flow
    (:class:`waveflow.bijectors.AutoregressiveAffine`, which reads ``causal_window``), with the
    same layer names.
    ``autocast_dtype`` (``None`` by default) makes the network run under
    ``torch.autocast(device, autocast_dtype)`` and return float32, so that a caller can run the
    heavy convolutions in bf16/fp16 while the flow's affine maps and 1x1 convs stay in fp32.
    """

    def __init__(
        self,
        n_in: int,
        n_cond: int,
        n_layers: int,
        n_channels: int,
        kernel_size: int,
        separable: bool = False,
        causal: bool = False,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"WaveNet: kernel_size must be odd, got {kernel_size}")
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.autocast_dtype: torch.dtype | None = None
        self.start = weight_normed_conv(n_in, n_channels)
        self.cond_layer = weight_normed_conv(n_cond, 2 * n_channels * n_layers)
        self.in_layers = nn.ModuleList(
            dilated_layer(n_channels, kernel_size, 2**i, separable, causal)
            for i in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            weight_normed_conv(n_channels, 2 * n_channels if i < n_layers - 1 else n_channels)
            for i in range(n_layers)
        )
        self.causal_window = 1 + (kernel_size - 1) * (2**n_layers - 1) if causal else None
        self._projections: dict[int, tuple[tuple, tuple[Tensor, Tensor]]] = {}
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)

    def receptive_field(self) -> int:
        """Columns on EACH side of column ``t`` that output ``t`` reads (of ``x`` and ``cond``).

        The convolutions are in series, so their one-sided reaches add up: for the dilated
        stack ``sum_i 2**i (kernel_size - 1) / 2`` (255 for 8 layers of kernel 3); 1x1 convs
        add nothing. Counted from the modules themselves, so other conv layouts are covered.
        """
        reach = 0
        for conv in self.modules():
            if isinstance(conv, nn.Conv1d):
                span = conv.dilation[0] * (conv.kernel_size[0] - 1)
                pad = conv.padding[0] if isinstance(conv.padding, tuple) else span // 2
                reach += max(pad, span - pad)
        return reach

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("WaveNet: the mel conditioning tensor is required")
        return autocast_forward(self.autocast_dtype, self._forward, x, cond)

    def _forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """NVIDIA's ``WN`` maths, with ``end`` folded into each layer's skip projection.

        ``end(sum_i skip_i) = sum_i (W_end S_i) acts_i + (W_end sum_i s_i + b_end)`` (all
        linear), so layer ``i`` projects its gated activations once to ``[residual (n
        channels), W_end S_i (2 n_in channels)]`` instead of ``[residual, skip (n channels)]``
        followed by the final ``end``: the same function (up to rounding) without the
        ``n x n`` skip convs (8 % of the published model's multiply-adds).
        """
        n = self.n_channels
        inplace = not torch.is_grad_enabled()
        h = self.start(x)
        cond_all = self.cond_layer(cond)
        out = None
        for i, (in_layer, res_skip_layer) in enumerate(
            zip(self.in_layers, self.res_skip_layers, strict=True)
        ):
            acts = gated_activation(
                in_layer(h)[:, :, : h.shape[2]], cond_all[:, 2 * n * i : 2 * n * (i + 1)], inplace
            )
            weight, bias = self._projection(i, res_skip_layer)
            projected = F.conv1d(acts, weight.to(acts.dtype), bias.to(acts.dtype))
            if i < self.n_layers - 1:
                residual, projected = projected[:, :n], projected[:, n:]
                h = h.add_(residual) if inplace else h + residual
            out = projected if out is None else out.add_(projected) if inplace else out + projected
        assert out is not None
        return out + self.end.bias.to(out.dtype)[:, None]

    def _projection(self, i: int, res_skip_layer: nn.Conv1d) -> tuple[Tensor, Tensor]:
        """Layer ``i``'s 1x1 weight ``[(n +) 2 n_in, n]`` and bias: residual rows (all but the
        last layer) and ``W_end`` times the skip rows, composed in full precision; cached
        without autograd, keyed on :func:`weights_key` of the parameters they come from (weight
        norm's ``g`` and ``v``, not the weight it recomputes on every access)."""
        key = weights_key([*res_skip_layer.parameters(), *self.end.parameters()])
        cached = self._projections.get(i)
        if cached is not None and cached[0] == key and not torch.is_grad_enabled():
            return cached[1]
        n = self.n_channels
        with torch.autocast(res_skip_layer.weight.device.type, enabled=False):
            weight, bias = res_skip_layer.weight[:, :, 0], res_skip_layer.bias
            end = self.end.weight[:, :, 0]
            last = i == self.n_layers - 1
            skip_w, skip_b = (weight, bias) if last else (weight[n:], bias[n:])
            fused_w, fused_b = end @ skip_w, end @ skip_b
            if not last:
                fused_w = torch.cat([weight[:n], fused_w])
                fused_b = torch.cat([bias[:n], fused_b])
        if key is not None and not torch.is_grad_enabled():
            self._projections[i] = (key, (fused_w[:, :, None], fused_b))
        return fused_w[:, :, None], fused_b


def gated_activation(pre: Tensor, cond: Tensor, inplace: bool) -> Tensor:
    """``tanh(a) * sigmoid(b)`` of ``[a; b] = pre + cond`` (WaveNet's gate, halves on dim 1);
    ``inplace`` (no autograd) reuses ``pre``'s memory instead of three new tensors."""
    n = pre.shape[1] // 2
    if not inplace:
        pre = pre + cond
        return torch.tanh(pre[:, :n]) * torch.sigmoid(pre[:, n:])
    pre.add_(cond)
    return pre[:, :n].tanh_().mul_(pre[:, n:].sigmoid_())


class PrecisionFallbackWarning(UserWarning):
    """A low precision was asked for on a device that does not compute it natively."""


def low_precision(dtype: torch.dtype | None, device: torch.device) -> torch.dtype | None:
    """``dtype`` if it asks for bf16/fp16 autocast in synthesis on ``device``, else None (full
    precision). On a device without native ``dtype`` units
    (:func:`waveflow.device.native_low_precision`: a CPU without AVX512-BF16/AMX for bf16) it
    warns once and runs full precision, which is then about 30x faster."""
    if dtype is None or dtype in (torch.float32, torch.float64):
        return None
    if not native_low_precision(dtype, device):
        name = str(dtype).removeprefix("torch.")
        warnings.warn(
            f"{name} asked for, but this {device.type.upper()} has no native {name} units, so "
            f"torch would decompose {name} convolutions (about 30x slower): running float32",
            PrecisionFallbackWarning,
            stacklevel=1,  # one location: one line per process however many calls warn
        )
        return None
    return dtype


def autocast_forward(
    dtype: torch.dtype | None, forward: Callable[..., Tensor], *inputs: Tensor
) -> Tensor:
    """``forward(*inputs)``; with ``dtype`` under ``torch.autocast`` to it, returned in float32
    (the network side of a low-precision synthesis: its consumers stay in full precision)."""
    if dtype is None:
        return forward(*inputs)
    with torch.autocast(inputs[0].device.type, dtype=dtype):
        return forward(*inputs).float()


@contextlib.contextmanager
def autocast_nets(module: nn.Module, dtype: torch.dtype | None) -> Iterator[None]:
    """Set ``autocast_dtype = dtype`` (None: off) on every network under ``module`` that has
    one (the coupling WaveNets and a conditional prior's PriorNets: every
    module that reads the conditioning, which a low-precision synthesis computes in ``dtype``).
    """
    nets = [sub for sub in module.modules() if hasattr(sub, "autocast_dtype")]
    for net in nets:
        net.autocast_dtype = dtype
    try:
        yield
    finally:
        for net in nets:
            net.autocast_dtype = None


def weight_normed_modules(module: nn.Module) -> Iterator[nn.Module]:
    """The submodules of ``module`` whose ``weight`` carries a parametrisation."""
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            yield sub


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrisation under ``module`` into a plain weight (in place)."""
    for sub in list(weight_normed_modules(module)):
        parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module
