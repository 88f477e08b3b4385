"""LappedFold: exact in float64, and fold + DCT-IV of the reversed blocks is the MDCT."""

from __future__ import annotations

import pytest
import torch
from flow_checks import assert_bijective
from mdct_reference import direct_mdct

from waveflow.bijectors import LappedFold, dct4_matrix


@pytest.mark.parametrize("block", [2, 8])
def test_lapped_fold_is_an_exact_volume_preserving_bijection(block):
    x = torch.randn(2, 3, block * 4, dtype=torch.float64)
    assert_bijective(LappedFold(block), x)
    assert torch.equal(LappedFold(block)(x)[1], torch.zeros(2, dtype=torch.float64))


def test_fold_then_dct4_of_reversed_blocks_is_the_mdct():
    block, frames = 16, 6
    signal = torch.randn(block * frames, dtype=torch.float64)
    folded = LappedFold(block)(signal.reshape(1, 1, -1))[0].reshape(frames, block)
    coefficients = folded.flip(-1) @ dct4_matrix(block).T  # [frames, block]
    for frame in range(1, frames - 1):  # interior frames: both neighbours exist
        torch.testing.assert_close(coefficients[frame], direct_mdct(signal, block, frame))


def test_fold_reaches_half_a_block_and_keeps_the_outer_halves():
    block = 8
    x = torch.randn(1, 1, block * 3, dtype=torch.float64)
    y = LappedFold(block)(x)[0]
    torch.testing.assert_close(y[..., : block // 2], x[..., : block // 2])
    torch.testing.assert_close(y[..., -block // 2 :], x[..., -block // 2 :])
    jac = torch.autograd.functional.jacobian(lambda v: LappedFold(block)(v)[0], x)
    jac = jac.reshape(3 * block, 3 * block)
    reach = max(abs(i - j) for i, j in jac.nonzero().tolist())
    assert reach == block - 1  # x[b - 1 - m] pairs with x[b + m], m < block / 2


def test_dct4_is_orthonormal_and_symmetric():
    matrix = dct4_matrix(12)
    torch.testing.assert_close(matrix @ matrix, torch.eye(12, dtype=torch.float64))
    torch.testing.assert_close(matrix, matrix.T)


@pytest.mark.parametrize(
    ("block", "shape", "message"),
    [(3, None, "even number"), (4, (2, 10), r"\[B, C, T\]"), (4, (1, 1, 10), "multiple of 4")],
)
def test_bad_block_or_shape_is_a_clear_error(block, shape, message):
    with pytest.raises(ValueError, match=message):
        LappedFold(block)(torch.zeros(shape))
