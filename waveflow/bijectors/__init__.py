"""The shared core of invertible layers ("bijectors"); knows nothing about audio or images.

Contract (see :mod:`waveflow.bijectors.base`): ``forward(x, cond=None) -> (y, logdet)`` maps data
toward the latent, ``inverse(y, cond=None) -> (x, logdet)`` maps back, ``logdet`` is
log|det d(out)/d(in)| per sample ``[B]``, the channel dim is 1 and any trailing dims follow.
"""

from waveflow.bijectors.actnorm import ActNorm
from waveflow.bijectors.autoregressive import AutoregressiveAffine
from waveflow.bijectors.base import Bijector
from waveflow.bijectors.chain import Chain, Inverse
from waveflow.bijectors.conv1x1 import InvertibleConv1x1
from waveflow.bijectors.coupling import AffineCoupling
from waveflow.bijectors.flow import Flow
from waveflow.bijectors.gaussian import Gaussian
from waveflow.bijectors.permutation import Reverse, Shuffle
from waveflow.bijectors.prior import LearnedPrior
from waveflow.bijectors.split import Split
from waveflow.bijectors.squeeze import Squeeze

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "AutoregressiveAffine",
    "Bijector",
    "Chain",
    "Flow",
    "Gaussian",
    "Inverse",
    "InvertibleConv1x1",
    "LearnedPrior",
    "Reverse",
    "Shuffle",
    "Split",
    "Squeeze",
]
