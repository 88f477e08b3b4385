"""Exactness checks shared by every flow test: round trip and log-det against autograd."""

from __future__ import annotations

import torch
from torch import Tensor


def jacobian_logdet(fn, x: Tensor) -> Tensor:
    """log|det J| of ``fn`` at each sample of ``x`` (``[B, ...]``) from the full autograd Jacobian.

    ``fn`` maps a batch of one sample to a tensor with as many entries as the sample.
    """
    out = []
    for i in range(x.shape[0]):
        xi = x[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda v: fn(v).reshape(-1), xi)
        jac = jac.reshape(jac.shape[0], -1)
        assert jac.shape[0] == jac.shape[1], f"non-square Jacobian {list(jac.shape)}"
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


def select_cond(cond, i: int):
    return None if cond is None else cond[i : i + 1]


def assert_bijective(layer, x: Tensor, cond: Tensor | None = None, tol: float = 1e-10) -> None:
    """Round trip, forward/inverse log-det symmetry and log-det == log|det Jacobian|."""
    y, logdet = layer(x, cond)
    assert logdet.shape == (x.shape[0],), f"logdet shape {list(logdet.shape)}"
    x_back, inv_logdet = layer.inverse(y, cond)
    assert x_back.shape == x.shape
    torch.testing.assert_close(x_back, x, atol=tol, rtol=0)
    torch.testing.assert_close(inv_logdet, -logdet, atol=tol * 100, rtol=0)

    expected = torch.stack(
        [
            jacobian_logdet(lambda v, i=i: layer(v, select_cond(cond, i))[0], x[i : i + 1])[0]
            for i in range(x.shape[0])
        ]
    )
    torch.testing.assert_close(logdet, expected, atol=1e-8, rtol=1e-8)
    expected_inv = torch.stack(
        [
            jacobian_logdet(
                lambda v, i=i: layer.inverse(v, select_cond(cond, i))[0], y[i : i + 1]
            )[0]
            for i in range(y.shape[0])
        ]
    )
    torch.testing.assert_close(inv_logdet, expected_inv, atol=1e-8, rtol=1e-8)
