"""MADE: a masked autoencoder whose outputs for feature ``i`` see only features ``< i``.

Germain et al. 2015. Degrees: input ``i`` (0-based) has degree ``i + 1``; hidden units cycle
through degrees ``1 .. D - 1``; output block ``i`` has degree ``i + 1``. A connection from a
unit of degree ``a`` to a hidden unit of degree ``b`` exists when ``b >= a``, to an output when
the output's degree is ``> a``. So output block ``i`` is a function of ``x_0 .. x_{i-1}`` (and
of the optional conditioning vector, which feeds every hidden unit of the first layer
unmasked): the network is autoregressive in the features' order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 ``mask [out, in]`` (a buffer)."""

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask.to(self.weight.dtype), self.bias)


class MADE(nn.Module):
    """``net(x [B, D], cond [B, cond_features] | None) -> [B, D, params_per_feature]``.

    ``out[:, i]`` depends on ``x[:, :i]`` and ``cond`` only (see the module docstring).
    ``n_hidden_layers`` masked ReLU layers of ``hidden_features`` units; the output layer starts
    at zero, so a transform fed by it starts at its all-zero-parameter map (the identity for
    the affine and spline transforms). ``cond_features > 0`` makes it a conditional network.
    """

    def __init__(
        self,
        num_features: int,
        params_per_feature: int,
        hidden_features: int = 64,
        n_hidden_layers: int = 2,
        cond_features: int = 0,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("num_features", num_features, 1),
            ("params_per_feature", params_per_feature, 1),
            ("hidden_features", hidden_features, 1),
            ("n_hidden_layers", n_hidden_layers, 1),
            ("cond_features", cond_features, 0),
        ):
            if value < low:
                raise ValueError(f"MADE: {name} must be >= {low}, got {value}")
        self.num_features = num_features
        self.params_per_feature = params_per_feature
        self.cond_features = cond_features
        d = num_features
        in_degrees = torch.arange(1, d + 1)
        hidden_degrees = torch.arange(hidden_features) % max(1, d - 1) + 1
        layers = []
        previous = in_degrees
        for _ in range(n_hidden_layers):
            layers.append(MaskedLinear(hidden_degrees[:, None] >= previous[None, :]))
            previous = hidden_degrees
        out_degrees = in_degrees.repeat_interleave(params_per_feature)
        self.hidden = nn.ModuleList(layers)
        self.output = MaskedLinear(out_degrees[:, None] > previous[None, :])
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)
        self.cond_proj = nn.Linear(cond_features, hidden_features) if cond_features else None

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"MADE: expected input of shape [B, {self.num_features}], got {list(x.shape)}"
            )
        if (cond is None) != (self.cond_proj is None):
            need = "needs" if self.cond_proj is not None else "takes no"
            raise ValueError(f"MADE: this network {need} a cond vector (cond_features="
                             f"{self.cond_features})")  # fmt: skip
        h = x
        for index, layer in enumerate(self.hidden):
            h = layer(h)
            if index == 0 and self.cond_proj is not None:
                if cond.shape != (x.shape[0], self.cond_features):
                    raise ValueError(
                        f"MADE: expected cond of shape [{x.shape[0]}, {self.cond_features}], "
                        f"got {list(cond.shape)}"
                    )
                h = h + self.cond_proj(cond)
            h = F.relu(h)
        out = self.output(h)
        return out.reshape(x.shape[0], self.num_features, self.params_per_feature)
