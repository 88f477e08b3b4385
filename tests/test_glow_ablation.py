"""tools/glow_ablation.py on a tiny budget: six interleaved configs, equal budgets, outputs;
the report's ordering check; bad options."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from image_files import write_mnist_layout
from PIL import Image

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

from ablation.glow_report import markdown_table, paper_order_checks  # noqa: E402
from ablation.glow_runner import AblationConfig, run_ablation  # noqa: E402
from glow_ablation import main  # noqa: E402

from waveflow.errors import WaveflowError  # noqa: E402

TINY = ["--levels", "1", "--steps", "1", "--hidden", "4", "--batch-size", "4", "--n-test", "8",
        "--threads", "1", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fm")
    write_mnist_layout(root, n_train=32, n_test=8)
    return root


@pytest.mark.parametrize("clock", ["cpu", "wall"])
def test_tool_gives_every_config_the_same_budget_and_writes_json_table_and_png(
    clock, data_root, tmp_path
):
    out = tmp_path / "abl"
    budget = 0.4
    argv = ["--data-root", str(data_root), "--clock", clock, "--budget", str(budget),
            "--slice", "0.1", "--eval-every", "0.2", "--out", str(out), *TINY]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["complete"] and result["config"]["clock"] == clock
    runs = result["runs"]
    assert sorted(r["name"] for r in runs) == sorted(
        f"{c}+{p}" for c in ("additive", "affine") for p in ("reverse", "shuffle", "conv1x1")
    )
    for run in runs:
        # stops at the first step past the budget (a loaded machine makes wall-clock steps long)
        assert budget <= run["train_s"] < budget + (2.0 if clock == "cpu" else 30.0)
        assert run["curve"][0]["time_s"] == 0 and run["curve"][-1]["time_s"] == run["train_s"]
        assert len(run["curve"]) >= 3 and all(0 < p["test_bpd"] < 20 for p in run["curve"])
        assert run["final_test_bpd"] == run["curve"][-1]["test_bpd"]
    table = out.with_suffix(".md").read_text()
    assert sum(line.startswith("| additive") or line.startswith("| affine")
               for line in table.splitlines()) == 6  # fmt: skip
    assert "the paper's conv1x1 < shuffle < reverse" in table
    assert result["machine"]["torch_threads"] == 1 and "glow_ablation.py" in result["command"]
    with Image.open(out.with_suffix(".png")) as png:
        assert png.size == (700, 450)


def test_partial_results_are_snapshotted_after_every_round(data_root):
    seen = []
    cfg = AblationConfig(
        data_root=str(data_root), budget_s=0.3, slice_s=0.1, eval_every_s=0.1, n_levels=1,
        n_steps=1, hidden_channels=4, batch_size=4, n_test=8, couplings=("affine",),
        permutations=("reverse", "conv1x1"),
    )  # fmt: skip
    final = run_ablation(cfg, snapshot=seen.append)
    assert len(seen) >= 2 and not any(s["complete"] for s in seen) and final["complete"]
    assert [r["name"] for r in final["runs"]] == ["affine+reverse", "affine+conv1x1"]
    reached = [s["budget_reached_s"] for s in seen]
    assert reached == sorted(reached)


def _fake(bpd: dict[str, float], diverged: str | None = None) -> dict:
    runs = []
    for name, value in bpd.items():
        coupling, permutation = name.split("+")
        curve = [{"time_s": 0.0, "steps": 0, "test_bpd": 9.0},
                 {"time_s": 10.0, "steps": 5, "test_bpd": value}]  # fmt: skip
        runs.append({"name": name, "coupling": coupling, "permutation": permutation,
                     "steps": 5, "train_s": 10.0, "diverged": name == diverged,
                     "final_test_bpd": value, "parameters": 100, "curve": curve})  # fmt: skip
    return {"config": {"budget_s": 10.0, "clock": "cpu"}, "complete": True,
            "budget_reached_s": 10.0, "runs": runs}  # fmt: skip


def test_ordering_check_against_the_paper():
    result = _fake(
        {"additive+reverse": 4.0, "additive+shuffle": 3.9, "additive+conv1x1": 3.8,
         "affine+reverse": 3.7, "affine+shuffle": 3.9, "affine+conv1x1": 3.6},
        diverged="affine+conv1x1",
    )  # fmt: skip
    checks = {c["coupling"]: c for c in paper_order_checks(result)}
    assert checks["additive"]["matches_paper"]
    assert checks["affine"]["order"] == ["reverse", "shuffle", "conv1x1"]  # diverged ranks last
    assert not checks["affine"]["matches_paper"]
    table = markdown_table(result)
    assert "| affine | conv1x1 | 100 | 5 | 10 | 9.0000 | 9.0000 | diverged |" in table
    assert "affine: best to worst reverse < shuffle < conv1x1 (differs from" in table
    # a partial snapshot has no final values: the ranking comes from the curves
    partial = _fake({"affine+reverse": 3.7, "affine+shuffle": 3.6, "affine+conv1x1": 3.5})
    partial["complete"] = False
    for run in partial["runs"]:
        run["final_test_bpd"] = None
    assert paper_order_checks(partial)[0]["matches_paper"]


def test_a_saved_json_is_re_rendered_without_training(tmp_path):
    result = _fake({"affine+reverse": 3.7, "affine+shuffle": 3.6, "affine+conv1x1": 3.5})
    result["config"]["threads"] = 1
    result["machine"] = {"cpu_model": "test cpu", "date": "2026-12-01"}
    result["command"] = "python tools/glow_ablation.py --budget 10"
    (tmp_path / "r.json").write_text(json.dumps(result))
    assert main(["--from-json", str(tmp_path / "r.json"), "--out", str(tmp_path / "x")]) == 0
    text = (tmp_path / "x.md").read_text()
    assert "test cpu, 2026-12-01" in text and "(matches the paper's" in text
    assert (tmp_path / "x.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args,message",
    [(["--budget", "0"], "budget_s must be a positive number"),
     (["--couplings", "affine,spline"], "couplings must be a non-empty subset"),
     (["--threads", "0"], "threads must be > 0")],
)  # fmt: skip
def test_bad_options_are_one_line_errors(args, message, data_root, capsys):
    assert main(["--data-root", str(data_root), *args, "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    assert main(["--data-root", str(tmp_path / "nowhere"), "--budget", "1", "--quiet"]) == 1
    assert "nowhere" in capsys.readouterr().err
    with pytest.raises(WaveflowError, match="clock must be one of"):
        AblationConfig(clock="gpu")
