"""Checks that the toy flow of the engine tests (tests/engine_stand_in.py) is a valid flow."""

from __future__ import annotations

import torch
from engine_stand_in import ToyFlow


def test_toy_flow_inverts_and_its_logdet_matches_autograd() -> None:
    torch.manual_seed(0)
    flow = ToyFlow(4, 8).double()
    x = torch.randn(5, 4, dtype=torch.float64) * 2 + 1
    z, logdet = flow(x)  # first call initialises loc/log_scale from x
    assert torch.allclose(flow.inverse(z), x, atol=1e-10)
    for i in range(x.shape[0]):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[i])
        assert torch.allclose(torch.linalg.slogdet(jac).logabsdet, logdet[i], atol=1e-10)


def test_toy_flow_data_dependent_init_standardises_the_init_batch() -> None:
    flow = ToyFlow(4, 8).double()
    x = torch.randn(64, 4, dtype=torch.float64) * 3 - 2
    flow(x)
    h = (x - flow.loc) * torch.exp(-flow.log_scale)
    assert torch.allclose(h.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(h.std(0), torch.ones(4, dtype=torch.float64), atol=1e-10)
