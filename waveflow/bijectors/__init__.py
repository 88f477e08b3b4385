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
from waveflow.bijectors.conv1x1 import InvertibleConv1x1
from waveflow.bijectors.coupling import AffineCoupling, CouplingParams
from waveflow.bijectors.flow import BASES, Flow, base_distribution
from waveflow.bijectors.gaussian import Gaussian
from waveflow.bijectors.lapped import LappedFold, dct4_matrix
from waveflow.bijectors.logistic import Logistic
from waveflow.bijectors.masked_coupling import MaskedCoupling, checkerboard_mask
from waveflow.bijectors.permutation import AxisPermutation, Reverse, Shuffle
from waveflow.bijectors.prior import LearnedPrior
from waveflow.bijectors.reshape import ChannelsToAxis, Reshape
from waveflow.bijectors.scale import Scale
from waveflow.bijectors.split import Split
from waveflow.bijectors.squeeze import Squeeze

__all__ = [
    "BASES",
    "ActNorm",
    "AffineCoupling",
    "AutoregressiveAffine",
    "AxisAutoregressiveAffine",
    "AxisPermutation",
    "BatchNorm",
    "Bijector",
    "Chain",
    "ChannelsToAxis",
    "CouplingParams",
    "Flow",
    "Gaussian",
    "Inverse",
    "InvertibleConv1x1",
    "LappedFold",
    "LearnedPrior",
    "Logistic",
    "MaskedCoupling",
    "Reshape",
    "Reverse",
    "Scale",
    "Shuffle",
    "Split",
    "Squeeze",
    "base_distribution",
    "checkerboard_mask",
    "dct4_matrix",
]
