"""An affine map autoregressive along one trailing axis, conditioned on the data (MAF-style).

On ``x [B, C, *trailing]`` with the autoregressive axis ``axis`` (a trailing dim, ``>= 2``):

    z_i = (x_i - m_i) * exp(-log_s_i),    (m, log_s) = net(x_<i, cond)    (all channels at i)

where ``i`` indexes ``axis`` (WaveFlow's height, Ping et al. 2020; MAF, Papamakarios et al.
2017, along a chosen axis of a tensor with a convolutional net; for vectors ``[B, D]`` with a
MADE see :class:`~waveflow.bijectors.masked_autoregressive.MaskedAutoregressive`).

* ``forward(x) -> z`` (data to latent, DENSITY) is parallel: one call of the network on the
  data shifted by one step along ``axis`` (zeros at step 0);
* ``inverse(z) -> x`` (latent to data, SAMPLING) is sequential over the ``L`` steps of
  ``axis``: step ``i`` runs the network on the steps ``< i`` produced so far (the last
  ``receptive_field`` of them) and keeps its output at ``i``. ``L`` calls, so use a short axis.

The Jacobian is triangular along ``axis`` with diagonal ``exp(-log_s)``, so the exact log-det
is ``-sum log_s`` for ``forward`` and ``sum log_s`` for ``inverse``.

``net(u [B, C, *trailing'], cond) -> [B, 2C, *trailing']`` = [shift, log-scale] (the layout of
:class:`~waveflow.bijectors.coupling.CouplingParams`, mode ``"affine"``) must be CAUSAL along
``axis`` (output ``i`` depends on inputs ``<= i`` along it; any reach along the other axes)
and must accept inputs cut short along ``axis`` (the prefixes of the sequential inverse).
``receptive_field`` (default: ``net.causal_window`` if the net has one) is the number of steps
along ``axis`` that one output sees; a too small value makes ``inverse`` inexact. ``cond`` of
the same rank as ``x`` and the same length along ``axis`` is cut with the input; any other
``cond`` (e.g. one without that axis, broadcast by the net) is passed whole.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, logdet_dtype, sum_per_sample
from waveflow.bijectors.coupling import CouplingParams, couple, uncouple


class AxisAutoregressiveAffine(Bijector):
    """Affine, autoregressive along ``axis`` of ``[B, C, *trailing]``; see the module docstring."""

    def __init__(
        self, num_channels: int, net: nn.Module, axis: int = 2, receptive_field: int | None = None
    ) -> None:
        super().__init__()
        if axis < 2:
            raise ValueError(
                f"AxisAutoregressiveAffine: axis must be a trailing dim >= 2, got {axis}"
            )
        if receptive_field is None:
            receptive_field = getattr(net, "causal_window", None)
        if receptive_field is not None and receptive_field < 1:
            raise ValueError(
                f"AxisAutoregressiveAffine: receptive_field must be >= 1, got {receptive_field}"
            )
        self.num_channels = num_channels
        self.net = net
        self.axis = axis
        self.receptive_field = receptive_field
        self.params = CouplingParams(num_channels, "affine")

    def _check(self, x: Tensor) -> None:
        check_channels(self, x, self.num_channels)
        if x.dim() <= self.axis:
            raise ValueError(
                f"AxisAutoregressiveAffine: input {list(x.shape)} has no axis {self.axis}"
            )

    def _cond_steps(self, cond: Tensor | None, x: Tensor, lo: int, hi: int) -> Tensor | None:
        if cond is None or cond.dim() != x.dim() or cond.shape[self.axis] != x.shape[self.axis]:
            return cond
        return cond.narrow(self.axis, lo, hi - lo)

    def _shift_params(self, u: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        shift, log_scale = self.params(self.net(u, cond), u, "AxisAutoregressiveAffine")
        assert log_scale is not None  # affine mode
        return shift, log_scale

    def _shifted(self, x: Tensor) -> Tensor:
        """``x`` moved one step along ``axis``: zeros at step 0, ``x_{i-1}`` at step ``i``."""
        first = torch.zeros_like(x.narrow(self.axis, 0, 1))
        return torch.cat([first, x.narrow(self.axis, 0, x.shape[self.axis] - 1)], self.axis)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Data to latent in one parallel pass: ``z = (x - m(x_<i)) * exp(-log_s(x_<i))``."""
        self._check(x)
        return uncouple(x, *self._shift_params(self._shifted(x), cond))

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latent to data, one step of ``axis`` after the other (``L`` calls of the network)."""
        self._check(z)
        steps = z.shape[self.axis]
        window = self.receptive_field or steps
        # inputs[j] is the net's input at step j: zeros at j = 0, then x_{j-1}.
        inputs = [torch.zeros_like(z.narrow(self.axis, 0, 1))]
        log_scales = []
        for i in range(steps):
            lo = max(0, i + 1 - window)
            u = torch.cat(inputs[lo : i + 1], self.axis)
            shift, log_scale = self._shift_params(u, self._cond_steps(cond, z, lo, i + 1))
            last = (slice(None),) * self.axis + (slice(-1, None),)
            x_i, _ = couple(z.narrow(self.axis, i, 1), shift[last], log_scale[last])
            inputs.append(x_i)
            log_scales.append(log_scale[last])
        x = torch.cat(inputs[1:], self.axis)
        return x, sum_per_sample(torch.cat(log_scales, self.axis), logdet_dtype(z))
