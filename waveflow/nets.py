"""Networks shared by the families: the fully connected coupling network of NICE and the toys."""

from __future__ import annotations

import math

from torch import Tensor, nn


class CouplingMLP(nn.Module):
    """``net(x, cond)``: ``[B, *in_shape] -> [B, *out_shape]`` through ``n_hidden_layers``
    ReLU layers of ``hidden_features`` units (NICE's coupling function ``m``).

    The input is flattened (so ``x`` may be ``[B, C]`` vectors or ``[B, C, T]`` pixel groups)
    and the output reshaped. The last layer starts at zero, so a coupling using it starts as
    the identity. ``cond`` is ignored (the toy and NICE models are unconditional).
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        hidden_features: int,
        n_hidden_layers: int,
    ) -> None:
        super().__init__()
        if hidden_features <= 0 or n_hidden_layers <= 0:
            raise ValueError(
                f"CouplingMLP: hidden_features and n_hidden_layers must be > 0, got "
                f"{hidden_features}, {n_hidden_layers}"
            )
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)
        layers: list[nn.Module] = []
        width = math.prod(self.in_shape)
        for _ in range(n_hidden_layers):
            layers += [nn.Linear(width, hidden_features), nn.ReLU()]
            width = hidden_features
        last = nn.Linear(width, math.prod(self.out_shape))
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.layers = nn.Sequential(*layers, last)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.layers(x.reshape(x.shape[0], -1)).reshape(x.shape[0], *self.out_shape)
