"""Exponential moving average (EMA) of a model's weights (`train.ema_decay`).

`WeightEMA` keeps an eval copy of the (unwrapped) model whose floating-point parameters follow

    ema <- d_t * ema + (1 - d_t) * weights,    d_t = min(decay, (1 + t) / (10 + t))

after every optimizer step t (1, 2, ...) that updated the weights; the warm-up of d_t lets the
average forget the initial weights quickly at the start of a run. Buffers (ActNorm's
`initialized` flag, running statistics) and non-float parameters are copied, not averaged.

In a checkpoint the averaged weights are `model` (what `load_model`, synthesis and `init_from`
read) and the raw training weights are `raw_model` (what resuming continues from), so a resumed
run is exact.
"""

from __future__ import annotations

import copy

import torch


def ema_decay_at(step: int, decay: float) -> float:
    """The decay used for the update after optimizer step `step` (1-based)."""
    return min(decay, (1.0 + step) / (10.0 + step))


class WeightEMA:
    """The averaged copy of `model` (an unwrapped module); `self.model` is in eval mode."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for param in self.model.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Move the average towards `model`'s weights after optimizer step `step`."""
        d = ema_decay_at(step, self.decay)
        averaged = dict(self.model.named_parameters())
        for name, param in model.named_parameters():
            target = averaged[name]
            if target.is_floating_point():
                target.lerp_(param.detach().to(target.dtype), 1.0 - d)
            else:
                target.copy_(param)
        for target, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            target.copy_(buffer)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state, strict=True)
