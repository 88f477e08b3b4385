"""An affine autoregressive bijector over time, conditioned on the latent: the IAF layer.

Inverse autoregressive flow (Kingma et al. 2016; the Parallel WaveNet student): on ``[B, C, T]``

    x_t = z_t * exp(log_s_t) + m_t,    (m, log_s) = net(z_<t, cond)    (all channels at t)

* ``inverse(z) -> x`` (latent to data, i.e. SAMPLING) is parallel: one call of the network on
  the whole latent, shifted right by one step;
* ``forward(x) -> z`` (data to latent, i.e. DENSITY) is sequential: ``z_t = (x_t - m_t) *
  exp(-log_s_t)`` for ``t = 0..T-1``, each step re-running the network on the window of the
  last ``receptive_field`` latent steps (``O(T * R)``; the whole prefix when it is ``None``).

Both directions follow the contract of :mod:`waveflow.bijectors.base`: ``forward`` maps data
toward the latent. The Jacobian is block lower-triangular in time with diagonal blocks
``diag(exp(log_s_t))``, so the exact log-det is ``sum log_s`` for ``inverse`` and minus that
for ``forward``.

``net(u [B, C, T'], cond [B, C_cond, T'] | None) -> [B, 2C, T']`` = [shift, log-scale] must be
CAUSAL (output ``t`` depends on inputs ``<= t`` only, e.g. dilated convolutions padded on the
left); the layer feeds it the latent shifted by one step, which makes the map strictly
autoregressive. ``receptive_field`` (default: ``net.causal_window`` if the net has one) is
the number of input steps an output of the net sees; a too small value makes ``forward``
inexact. ``cond``, when given, has the same time length ``T`` as the data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from waveflow.bijectors.base import Bijector, check_channels, logdet_dtype, sum_per_sample


class AutoregressiveAffine(Bijector):
    """IAF over the last dim of ``[B, C, T]``; see the module docstring."""

    def __init__(
        self, num_channels: int, net: nn.Module, receptive_field: int | None = None
    ) -> None:
        super().__init__()
        if receptive_field is None:
            receptive_field = getattr(net, "causal_window", None)
        if receptive_field is not None and receptive_field < 1:
            raise ValueError(
                f"AutoregressiveAffine: receptive_field must be >= 1, got {receptive_field}"
            )
        self.num_channels = num_channels
        self.net = net
        self.receptive_field = receptive_field

    def _check(self, x: Tensor, cond: Tensor | None) -> None:
        check_channels(self, x, self.num_channels)
        if x.dim() != 3:
            raise ValueError(
                f"AutoregressiveAffine: expected input of shape [B, C, T], got {list(x.shape)}"
            )
        if cond is not None and (cond.shape[0] != x.shape[0] or cond.shape[2:] != x.shape[2:]):
            raise ValueError(
                f"AutoregressiveAffine: cond of shape {list(cond.shape)} does not match the "
                f"input's batch and time {list(x.shape)}"
            )

    def _params(self, shifted: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.net(shifted, cond)
        c = self.num_channels
        if h.shape != (shifted.shape[0], 2 * c, shifted.shape[2]):
            raise ValueError(
                f"AutoregressiveAffine: net returned shape {list(h.shape)}, expected "
                f"[{shifted.shape[0]}, {2 * c}, {shifted.shape[2]}]"
            )
        return h[:, :c], h[:, c:]

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latent to data in one parallel pass: ``x = z * exp(log_s(z_<t)) + m(z_<t)``."""
        self._check(z, cond)
        shift, log_scale = self._params(F.pad(z, (1, -1)), cond)
        x = z * log_scale.exp() + shift
        return x, sum_per_sample(log_scale, logdet_dtype(z))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Data to latent, one time step after the other (``T`` calls of the network)."""
        self._check(x, cond)
        steps = x.shape[2]
        window = self.receptive_field or steps
        # shifted[j] is the net's input at time j: zeros at j = 0, then z_{j-1}.
        shifted = [torch.zeros_like(x[:, :, 0])]
        log_scales = []
        for t in range(steps):
            lo = max(0, t + 1 - window)
            u = torch.stack(shifted[lo : t + 1], dim=2)
            c = None if cond is None else cond[:, :, lo : t + 1]
            shift, log_scale = self._params(u, c)
            shifted.append((x[:, :, t] - shift[:, :, -1]) * torch.exp(-log_scale[:, :, -1]))
            log_scales.append(log_scale[:, :, -1])
        z = torch.stack(shifted[1:], dim=2)
        return z, -sum_per_sample(torch.stack(log_scales, dim=2), logdet_dtype(x))
