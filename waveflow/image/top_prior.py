"""The network behind Glow's top prior: learned (and optionally class-conditional) mean/log-std."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from waveflow.errors import WaveflowError


class TopPriorNet(nn.Module):
    """``cond -> [B|1, 2C, 1, 1]`` = (mean, log-std) of the top latent, per channel.

    * ``learn_top``: a learned per-channel mean and log-std, both starting at 0 (Glow's
      ``learn_top``, a zero conv applied to zeros, i.e. a per-channel bias);
    * ``n_classes``: plus a zero-initialised linear map of the one-hot label ``cond [B, n_classes]``
      (Glow's ``ycond``). ``cond`` is then required.

    Used as the ``net`` of :class:`waveflow.bijectors.LearnedPrior`.
    """

    def __init__(self, num_channels: int, learn_top: bool, n_classes: int | None) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.n_classes = n_classes
        self.bias = nn.Parameter(torch.zeros(1, 2 * num_channels, 1, 1)) if learn_top else None
        self.class_map = None
        if n_classes is not None:
            self.class_map = nn.Linear(n_classes, 2 * num_channels)
            nn.init.zeros_(self.class_map.weight)
            nn.init.zeros_(self.class_map.bias)

    def forward(self, cond: Tensor | None) -> Tensor:
        out = None if self.bias is None else self.bias
        if self.class_map is not None:
            if cond is None:
                raise WaveflowError(
                    f"the top prior is class-conditional (n_classes={self.n_classes}): "
                    "labels are required"
                )
            by_class = self.class_map(cond).view(cond.shape[0], 2 * self.num_channels, 1, 1)
            out = by_class if out is None else out + by_class
        if out is None:
            raise WaveflowError("TopPriorNet needs learn_top or n_classes")
        return out
