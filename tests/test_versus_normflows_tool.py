"""tools/versus_normflows.py runs end to end on tiny data and writes its tables (needs the
``bench`` extra: normflows)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from image_files import write_mnist_layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
pytest.importorskip("normflows")

import versus_normflows  # noqa: E402


def test_both_parts_run_on_tiny_data_and_report_every_contender(tmp_path, capsys):
    data = tmp_path / "data"
    write_mnist_layout(data, n_train=64, n_test=8)
    out = tmp_path / "result"
    args = [
        "--seeds", "0", "--budget", "0.3", "--slice", "0.1", "--levels", "1", "--steps", "1",
        "--hidden", "8", "--batch-size", "4", "--n-test", "8", "--data-root", str(data),
        "--toy-steps", "2", "--toy-couplings", "2", "--toy-hidden", "8", "--out", str(out),
    ]  # fmt: skip
    assert versus_normflows.main(args) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    glow = {r["library"] for r in result["rows"] if r["part"] == "glow"}
    toy = {(r["dataset"], r["model"]) for r in result["rows"] if r["part"] == "toy"}
    assert glow == {"waveflow", "normflows"} and len(toy) == 6
    table = out.with_suffix(".md").read_text()
    assert "Training speed ratio waveflow / normflows" in table and "| checkerboard |" in table
