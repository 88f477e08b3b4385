"""The Python examples in README.md run as written and compute what they say they compute."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert BLOCKS, "README.md lost its Python examples"


def check_results(namespace: dict) -> int:
    """Assert the properties an example's results must have; returns how many were checked.

    Every tensor (and float NumPy array) it leaves must be finite; a round trip (``back`` of
    ``audio``, ``x_back`` of ``x``) must reproduce its input; a log-likelihood ``log_p`` has
    one value per batch item.
    """
    tensors = {k: v for k, v in namespace.items() if isinstance(v, torch.Tensor)}
    arrays = {
        k: torch.from_numpy(v)
        for k, v in namespace.items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    }
    for name, value in {**tensors, **arrays}.items():
        assert torch.isfinite(value).all(), f"README example left a non-finite {name!r}"
    checked = len(tensors) + len(arrays)
    for back, source in (("back", "audio"), ("x_back", "x")):
        if back in tensors:
            assert source in tensors, f"a README round trip {back!r} must name its input {source!r}"
            torch.testing.assert_close(tensors[back], tensors[source], atol=1e-4, rtol=1e-4)
            checked += 1
    if "log_p" in tensors and "audio" in tensors:
        assert tensors["log_p"].shape == (tensors["audio"].shape[0],)
        checked += 1
    return checked


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs_and_its_results_hold(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), namespace)
    assert check_results(namespace) > 0, "the example computes no tensor that can be checked"


def test_the_result_checks_catch_a_broken_round_trip():
    audio = torch.zeros(1, 8)
    with pytest.raises(AssertionError):
        check_results({"audio": audio, "back": audio + 1.0})
    with pytest.raises(AssertionError, match="non-finite"):
        check_results({"audio": torch.tensor([float("nan")])})
