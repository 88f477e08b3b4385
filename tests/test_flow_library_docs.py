"""The Python examples in docs/flow-library.md run as written and their round trips hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_readme_examples import check_results

PAGE = Path(__file__).resolve().parents[1] / "docs" / "flow-library.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_the_page_has_python_examples():
    assert len(BLOCKS) >= 6, "docs/flow-library.md lost its Python examples"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_flow_library_example_runs_and_its_results_hold(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"flow-library.md[python block {index}]", "exec"), namespace)
    assert check_results(namespace) > 0, "the example computes no tensor that can be checked"
