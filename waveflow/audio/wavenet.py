"""WaveGlow's coupling network: a WaveNet-like stack conditioned on the mel (optionally causal).

``WaveNet(n_in, n_cond, n_layers, n_channels, kernel_size)`` maps the kept half of the grouped
audio ``x [B, n_in, T']`` and the grouped mel ``cond [B, n_cond, T']`` to
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
* ``end``: 1x1 conv ``n_channels -> 2 n_in`` without weight norm, zero-initialised so that a
  fresh coupling is the identity.

Weight norm is ``torch.nn.utils.parametrizations.weight_norm`` (``weight = g v / ||v||`` per
output channel); :func:`remove_weight_norm` folds it into plain weights for inference.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm


def weight_normed_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 1,
    dilation: int = 1,
    causal: bool = False,
) -> nn.Conv1d:
    """A weight-normed ``Conv1d`` with "same" padding (odd kernel), or, ``causal``, padding
    ``dilation * (kernel_size - 1)`` on both ends, so that its first ``T`` outputs are causal."""
    padding = dilation * (kernel_size - 1) // (1 if causal else 2)
    conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, padding=padding)
    return weight_norm(conv, name="weight")


class WaveNet(nn.Module):
    """``net(x [B, n_in, T'], cond [B, n_cond, T']) -> [B, 2 n_in, T']``; see the module doc.

    ``receptive_field`` is the number of input steps one output sees. ``causal=True`` trims the
    right end of every dilated convolution, so that the output at ``t`` sees only the inputs
    ``t - receptive_field + 1 .. t``: the network of an autoregressive flow
    (:class:`waveflow.bijectors.AutoregressiveAffine`), with the same layer names.
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
            weight_normed_conv(n_channels, 2 * n_channels, kernel_size, 2**i, causal)
            for i in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            weight_normed_conv(n_channels, 2 * n_channels if i < n_layers - 1 else n_channels)
            for i in range(n_layers)
        )
        self.receptive_field = 1 + (kernel_size - 1) * (2**n_layers - 1)
        self.end = nn.Conv1d(n_channels, 2 * n_in, 1)
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("WaveNet: the mel conditioning tensor is required")
        if self.autocast_dtype is None:
            return self._forward(x, cond)
        with torch.autocast(x.device.type, dtype=self.autocast_dtype):
            return self._forward(x, cond).float()

    def _forward(self, x: Tensor, cond: Tensor) -> Tensor:
        n = self.n_channels
        h = self.start(x)
        cond_all = self.cond_layer(cond)
        skip = None
        for i, (in_layer, res_skip_layer) in enumerate(
            zip(self.in_layers, self.res_skip_layers, strict=True)
        ):
            pre = in_layer(h)[:, :, : h.shape[2]] + cond_all[:, 2 * n * i : 2 * n * (i + 1)]
            acts = torch.tanh(pre[:, :n]) * torch.sigmoid(pre[:, n:])
            res_skip = res_skip_layer(acts)
            if i < self.n_layers - 1:
                h = h + res_skip[:, :n]
                res_skip = res_skip[:, n:]
            skip = res_skip if skip is None else skip + res_skip
        return self.end(skip)


@contextlib.contextmanager
def autocast_nets(module: nn.Module, dtype: torch.dtype | None) -> Iterator[None]:
    """Run every :class:`WaveNet` under ``module`` with ``autocast_dtype = dtype`` (None: off)."""
    nets = [sub for sub in module.modules() if isinstance(sub, WaveNet)]
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
