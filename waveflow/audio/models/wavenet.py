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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

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
    ``prepared`` (``None`` by default; set by :func:`prepared_nets` for one synthesis) holds
    the weights as plain tensors (:meth:`weights`), used whenever autograd is off.
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
        self.prepared: NetWeights | None = None
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
        prepared = self.prepared if not torch.is_grad_enabled() else None
        weights = prepared or self.weights()
        return autocast_forward(self.autocast_dtype, self._forward, x, cond, weights)

    def _forward(self, x: Tensor, cond: Tensor, w: NetWeights) -> Tensor:
        """NVIDIA's ``WN`` maths, with ``end`` folded into each layer's skip projection.

        ``end(sum_i skip_i) = sum_i (W_end S_i) acts_i + (W_end sum_i s_i + b_end)`` (all
        linear), so layer ``i`` projects its gated activations once to ``[residual (n
        channels), W_end S_i (2 n_in channels)]`` instead of ``[residual, skip (n channels)]``
        followed by the final ``end``: the same function (up to rounding) without the
        ``n x n`` skip convs (8 % of the published model's multiply-adds); see :meth:`weights`.
        """
        n = self.n_channels
        inplace = not torch.is_grad_enabled()
        h = w.start(x)
        cond_all = w.cond(cond)
        out = None
        for i, (dilated, projection) in enumerate(zip(w.dilated, w.projections, strict=True)):
            pre = h
            for conv in dilated:
                pre = conv(pre)
            acts = gated_activation(
                pre[:, :, : h.shape[2]], cond_all[:, 2 * n * i : 2 * n * (i + 1)], inplace
            )
            projected = projection(acts)
            if i < self.n_layers - 1:
                residual, projected = projected[:, :n], projected[:, n:]
                h = h.add_(residual) if inplace else h + residual
            out = projected if out is None else out.add_(projected) if inplace else out + projected
        assert out is not None
        return out

    def weights(self, dtype: torch.dtype | None = None) -> NetWeights:
        """Every weight the forward pass uses, read once (weight norm applied) and composed
        in full precision outside autocast, then cast to ``dtype`` (None: as they are).

        Layer ``i``'s projection ``[(n +) 2 n_in, n]`` stacks its residual rows (all but the
        last layer) over ``W_end`` times its skip rows; ``b_end`` is added to the last layer's
        bias. The products of all layers are one batched matmul. Differentiable: training
        calls this every step; synthesis prepares it once (:func:`prepared_nets`).
        """
        n, last = self.n_channels, self.n_layers - 1
        with torch.autocast(self.end.weight.device.type, enabled=False):
            end = self.end.weight[:, :, 0]
            layers = [(layer.weight[:, :, 0], layer.bias) for layer in self.res_skip_layers]
            skip_w = torch.stack([wt[n:] for wt, _ in layers[:last]] + [layers[last][0]])
            skip_b = torch.stack([b[n:] for _, b in layers[:last]] + [layers[last][1]])
            fused_w, fused_b = end @ skip_w, skip_b @ end.T  # [L, 2 n_in, n], [L, 2 n_in]
            weights, biases = list(fused_w.unbind()), list(fused_b.unbind())
            biases[last] = biases[last] + self.end.bias
            if last:
                res_w = torch.stack([wt[:n] for wt, _ in layers[:last]])
                res_b = torch.stack([b[:n] for _, b in layers[:last]])
                both_w = torch.cat([res_w, fused_w[:last]], dim=1).unbind()
                both_b = torch.cat([res_b, fused_b[:last]], dim=1).unbind()
                weights[:last], biases[:last] = both_w, both_b
        projections = [
            Conv(cast(wt[:, :, None], dtype), cast(b, dtype))
            for wt, b in zip(weights, biases, strict=True)
        ]
        dilated = [
            tuple(Conv.of(conv, dtype) for conv in layer)
            if isinstance(layer, nn.Sequential)
            else (Conv.of(layer, dtype),)
            for layer in self.in_layers
        ]
        return NetWeights(
            Conv.of(self.start, dtype), Conv.of(self.cond_layer, dtype), dilated, projections
        )


@dataclass(frozen=True)
class Conv:
    """A 1-d convolution as plain tensors: ``F.conv1d(x, weight, bias, 1, padding, dilation,
    groups)`` (1x1: :func:`pointwise`); :meth:`of` reads an ``nn.Conv1d`` (its weight norm
    applied once)."""

    weight: Tensor
    bias: Tensor | None
    padding: int = 0
    dilation: int = 1
    groups: int = 1

    @classmethod
    def of(cls, conv: nn.Conv1d, dtype: torch.dtype | None = None) -> Conv:
        bias = None if conv.bias is None else cast(conv.bias, dtype)
        padding = conv.padding[0] if isinstance(conv.padding, tuple) else conv.padding
        return cls(cast(conv.weight, dtype), bias, int(padding), conv.dilation[0], conv.groups)

    def __call__(self, x: Tensor) -> Tensor:
        if self.weight.shape[2] == 1 and self.groups == 1 and self.padding == 0:
            return pointwise(x, self.weight[:, :, 0], self.bias)
        return F.conv1d(x, self.weight, self.bias, 1, self.padding, self.dilation, self.groups)


def pointwise(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A 1x1 convolution ``[B, C_in, T] -> [B, C_out, T]`` with ``weight [C_out, C_in]`` as one
    batched matrix product (one BLAS call: fewer operations than ``conv1d``'s dispatch)."""
    if bias is None:
        return torch.matmul(weight, x)
    return torch.baddbmm(bias[:, None], weight.expand(x.shape[0], -1, -1), x)


@dataclass(frozen=True)
class NetWeights:
    """A :class:`WaveNet`'s weights as plain tensors (:meth:`WaveNet.weights`): ``start``,
    ``cond`` (the fused conditioning projection), per layer its ``dilated`` conv(s) (one, or
    two when separable) and its fused residual/skip ``projections``."""

    start: Conv
    cond: Conv
    dilated: list[tuple[Conv, ...]]
    projections: list[Conv]


def cast(t: Tensor, dtype: torch.dtype | None) -> Tensor:
    """``t`` in ``dtype`` (None or already there: ``t`` itself, no operation recorded)."""
    return t if dtype is None or t.dtype == dtype else t.to(dtype)


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


def prepare_nets(module: nn.Module, dtype: torch.dtype | None = None) -> list[WaveNet]:
    """Prepare every not yet prepared :class:`WaveNet` under ``module`` (see
    :func:`prepared_nets`) until its ``prepared`` is reset to None; returns those nets."""
    nets = [sub for sub in module.modules() if isinstance(sub, WaveNet) and sub.prepared is None]
    with torch.no_grad():
        for net in nets:
            net.prepared = net.weights(dtype)
    return nets


@contextlib.contextmanager
def prepared_nets(module: nn.Module, dtype: torch.dtype | None = None) -> Iterator[None]:
    """Inside, every :class:`WaveNet` under ``module`` runs on weights read, composed and cast
    to ``dtype`` (None: the model's) ONCE, at entry (:meth:`WaveNet.weights`), whenever
    autograd is off: one synthesis, however many chunks or calls, prepares them once. Nothing
    is cached beyond the block, so weights changed between blocks are always seen; inside it
    they must not change. A net already prepared (a nested block) is left as it is; entered
    with autograd on, the block prepares nothing (the nets compose their weights per call).
    """
    nets = [] if torch.is_grad_enabled() else prepare_nets(module, dtype)
    try:
        yield
    finally:
        for net in nets:
            net.prepared = None


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
