"""The shared core of invertible layers ("bijectors"); knows nothing about audio or images.

Contract (see :mod:`waveflow.bijectors.base`): ``forward(x, cond=None) -> (y, logdet)`` maps data
toward the latent, ``inverse(y, cond=None) -> (x, logdet)`` maps back, ``logdet`` is
log|det d(out)/d(in)| per sample ``[B]``, the channel dim is 1 and any trailing dims follow.
"""

from waveflow.bijectors.actnorm import ActNorm
from waveflow.bijectors.autoregressive import AutoregressiveAffine
from waveflow.bijectors.axis_autoregressive import AxisAutoregressiveAffine
from waveflow.bijectors.base import Bijector
from waveflow.bijectors.batchnorm import BatchNorm
from waveflow.bijectors.chain import Chain, Inverse
from waveflow.bijectors.class_gaussian import ClassConditionalGaussian
from waveflow.bijectors.conv1x1 import InvertibleConv1x1
from waveflow.bijectors.coupling import AffineCoupling, CouplingParams
from waveflow.bijectors.flow import BASES, Flow, base_distribution
from waveflow.bijectors.gaussian import Gaussian
from waveflow.bijectors.householder import Householder
from waveflow.bijectors.lapped import LappedFold, dct4_matrix
from waveflow.bijectors.logistic import Logistic
from waveflow.bijectors.made import MADE, MaskedLinear
from waveflow.bijectors.masked_autoregressive import MaskedAutoregressive
from waveflow.bijectors.masked_coupling import MaskedCoupling, checkerboard_mask
from waveflow.bijectors.mixture import GaussianMixture
from waveflow.bijectors.permutation import AxisPermutation, Reverse, Shuffle
from waveflow.bijectors.prior import LearnedPrior
from waveflow.bijectors.reshape import ChannelsToAxis, Reshape
from waveflow.bijectors.scale import Scale
from waveflow.bijectors.spline import (
    RationalQuadraticSpline,
    rational_quadratic_spline,
    spline_params_per_dim,
)
from waveflow.bijectors.spline_coupling import SplineCoupling, spline_net_channels
from waveflow.bijectors.split import Split
from waveflow.bijectors.squeeze import Squeeze
from waveflow.bijectors.uniform import Uniform

__all__ = [
    "BASES",
    "MADE",
    "ActNorm",
    "AffineCoupling",
    "AutoregressiveAffine",
    "AxisAutoregressiveAffine",
    "AxisPermutation",
    "BatchNorm",
    "Bijector",
    "Chain",
    "ChannelsToAxis",
    "ClassConditionalGaussian",
    "CouplingParams",
    "Flow",
    "Gaussian",
    "GaussianMixture",
    "Householder",
    "Inverse",
    "InvertibleConv1x1",
    "LappedFold",
    "LearnedPrior",
    "Logistic",
    "MaskedAutoregressive",
    "MaskedCoupling",
    "MaskedLinear",
    "RationalQuadraticSpline",
    "Reshape",
    "Reverse",
    "Scale",
    "Shuffle",
    "SplineCoupling",
    "Split",
    "Squeeze",
    "Uniform",
    "base_distribution",
    "checkerboard_mask",
    "dct4_matrix",
    "rational_quadratic_spline",
    "spline_net_channels",
    "spline_params_per_dim",
]
