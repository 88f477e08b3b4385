"""Masked autoregressive flow layers on vectors: MAF (affine) and the autoregressive spline.

On ``x [B, D]``, with ``theta_i = MADE(x_<i, cond)`` (:class:`~waveflow.bijectors.made.MADE`):

* ``transform="affine"`` (MAF, Papamakarios et al. 2017): ``z_i = (x_i - m_i) * exp(-a_i)``
  with ``(m_i, a_i) = theta_i`` passed through the coupling scale modes of
  :class:`~waveflow.bijectors.coupling.CouplingParams` (``"affine"``: ``a = raw``; ``"tanh"``:
  bounded), and the couplings' own :func:`couple`/:func:`uncouple`;
* ``transform="spline"`` (autoregressive rational-quadratic spline, Durkan et al. 2019):
  ``z_i = spline(x_i; theta_i)`` (:mod:`waveflow.bijectors.spline`).

``forward`` (data to latent, the DENSITY direction) is one pass of the MADE; ``inverse``
(sampling) takes ``D`` passes: pass ``k`` fixes feature ``k`` (its parameters depend on
features ``< k`` only, already final). This is the density-side twin of the IAF layer
(:class:`~waveflow.bijectors.autoregressive.AutoregressiveAffine`), whose sampling is the
parallel direction. The Jacobian is triangular, so the log-det is the sum of the elementwise
log-derivatives. ``cond`` (``[B, cond_features]``) makes it a conditional density.
"""

from __future__ import annotations

from torch import Tensor

from waveflow.bijectors.base import Bijector
from waveflow.bijectors.coupling import CouplingParams, couple, uncouple
from waveflow.bijectors.made import MADE
from waveflow.bijectors.spline import RationalQuadraticSpline

TRANSFORMS = ("affine", "spline")


class MaskedAutoregressive(Bijector):
    """A MAF / autoregressive-spline layer on ``[B, num_features]``; see the module docstring.

    ``scale`` is the affine transform's log-scale mode (``"affine"`` or ``"tanh"``); ``num_bins``,
    ``bound`` and ``tails`` configure the spline. The MADE has ``n_hidden_layers`` layers of
    ``hidden_features`` units. Reverse or shuffle the features between stacked layers.
    """

    def __init__(
        self,
        num_features: int,
        hidden_features: int = 64,
        n_hidden_layers: int = 2,
        cond_features: int = 0,
        transform: str = "affine",
        scale: str = "tanh",
        num_bins: int = 8,
        bound: float = 3.0,
        tails: str = "linear",
    ) -> None:
        super().__init__()
        if transform not in TRANSFORMS:
            raise ValueError(
                f"MaskedAutoregressive: transform must be one of {list(TRANSFORMS)}, "
                f"got {transform!r}"
            )
        if transform == "affine" and scale not in ("affine", "tanh"):
            raise ValueError(
                f"MaskedAutoregressive: scale must be 'affine' or 'tanh', got {scale!r}"
            )
        self.num_features = num_features
        self.transform = transform
        if transform == "spline":
            self.spline = RationalQuadraticSpline(num_bins, bound, tails, "MaskedAutoregressive")
            per_feature = self.spline.params_per_dim
        else:
            self.params = CouplingParams(num_features, scale)
            per_feature = 2
        self.made = MADE(num_features, per_feature, hidden_features, n_hidden_layers, cond_features)

    def _map(self, x: Tensor, theta: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        """The elementwise map of ``x`` with per-feature params ``theta [B, D, P]``; ``inverse``
        is the sampling direction."""
        if self.transform == "spline":
            return self.spline(x, theta, inverse)
        h = theta.transpose(1, 2).reshape(x.shape[0], -1)  # [shift..., pre-scale...]
        shift, log_scale = self.params(h, x, "MaskedAutoregressive")
        return couple(x, shift, log_scale) if inverse else uncouple(x, shift, log_scale)

    def _check(self, x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"MaskedAutoregressive: expected input of shape [B, {self.num_features}], "
                f"got {list(x.shape)}"
            )

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Data to latent in one pass."""
        self._check(x)
        return self._map(x, self.made(x, cond), inverse=False)

    def inverse(self, z: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latent to data in ``D`` passes (feature ``k`` is final after pass ``k``)."""
        self._check(z)
        x = z.new_zeros(z.shape)
        for _ in range(self.num_features):
            x, logdet = self._map(z, self.made(x, cond), inverse=True)
        return x, logdet
