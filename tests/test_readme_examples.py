"""The Python examples of README.md and of the documentation pages run as written and compute
what they say they compute.

Every ```python block of README.md and of each Markdown page under docs/ is one test, named by
file and block index. Blocks that need files the tests cannot have (NVIDIA's checkpoint, a
trained model) are written as ```py or ```text and are not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


EXAMPLES = [
    pytest.param(page, index, block, id=f"{page.relative_to(ROOT)}[{index}]")
    for page in PAGES
    for index, block in enumerate(python_blocks(page.read_text(encoding="utf-8")))
]


def test_readme_has_python_examples():
    assert python_blocks((ROOT / "README.md").read_text()), "README.md lost its Python examples"


def test_python_blocks_are_found_whole():
    text = "intro\n```python\nx = 1\n```\n```py\nnot run\n```\n```python\ny = 2\nz = 3\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = 2\nz = 3\n"]


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
        assert torch.isfinite(value).all(), f"the example left a non-finite {name!r}"
    checked = len(tensors) + len(arrays)
    for back, source in (("back", "audio"), ("x_back", "x")):
        if back in tensors:
            assert source in tensors, f"a round trip {back!r} must name its input {source!r}"
            torch.testing.assert_close(tensors[back], tensors[source], atol=1e-4, rtol=1e-4)
            checked += 1
    if "log_p" in tensors and "audio" in tensors:
        assert tensors["log_p"].shape == (tensors["audio"].shape[0],)
        checked += 1
    return checked


@pytest.mark.parametrize(("page", "index", "block"), EXAMPLES)
def test_example_runs_and_its_results_hold(page, index, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    name = f"{page.relative_to(ROOT)}[python block {index}]"
    exec(compile(block, name, "exec"), namespace)
    assert check_results(namespace) > 0, "the example computes no tensor that can be checked"


def test_the_result_checks_catch_a_broken_round_trip():
    audio = torch.zeros(1, 8)
    with pytest.raises(AssertionError):
        check_results({"audio": audio, "back": audio + 1.0})
    with pytest.raises(AssertionError, match="non-finite"):
        check_results({"audio": torch.tensor([float("nan")])})
