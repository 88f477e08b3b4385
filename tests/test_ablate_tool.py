"""tools/ablate.py on a tiny corpus: two configurations, one seed, a few steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

from ablation.cli import main  # noqa: E402
from ablation.report import aggregate, markdown_table  # noqa: E402
from ablation.spec import parse_budget, parse_run  # noqa: E402

from waveflow.errors import WaveflowError  # noqa: E402

TINY = """\
task: waveglow
model: {n_flows: 2, n_group: 8, n_early_every: 4, n_early_size: 2, n_layers: 2,
        n_channels: 8, hop_length: 256, upsample_kernel: 256}
data: {segment_length: 2048, n_valid: 1, n_test: 1}
train: {batch_size: 2, num_workers: 0, lr: 1.0e-3, log_every: 1}
"""


def tiny_base(folder: Path) -> Path:
    """The tiny base config as a YAML file in `folder`."""
    base = folder / "tiny.yaml"
    base.write_text(TINY)
    return base


def test_two_configs_are_trained_scored_reported_and_skipped_when_done(
    tmp_path: Path, tiny_ljspeech: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tiny_base(tmp_path)
    out = tmp_path / "ablation"
    argv = [
        "--base", str(base), "base:", "ema:train.ema_decay=0.9,train.lr=2e-3",
        "--set", f"data.root={tiny_ljspeech}", "--budget", "steps:3", "--eval-every", "2",
        "--seeds", "1", "--metrics", "mel,mrstft,stoi,pesq", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["budget"]["kind"] == "steps" and "3 optimizer steps" in report["budget"]["text"]
    assert set(report["configs"]) == {"base", "ema"}
    for name in ("base", "ema"):
        (run,) = report["runs"][name]
        assert [point["step"] for point in run["curve"]] == [2, 3]  # every 2 steps + the end
        assert all(point["process_s"] > 0 for point in run["curve"])
        assert run["steps"] == 3
        for key in ("nll_bits_per_sample", "mel_l1", "mrstft_sc", "stoi", "pesq_wb"):
            assert isinstance(run[key], float), key
        assert report["configs"][name]["nll_bits_per_sample"]["n"] == 1
    assert (
        report["runs"]["base"][0]["nll_bits_per_sample"]
        != report["runs"]["ema"][0]["nll_bits_per_sample"]
    )
    assert report["griffin_lim"]["mel_l1"] < report["runs"]["base"][0]["mel_l1"]
    table = (out / "report.md").read_text()
    assert "Budget: 3 optimizer steps per run" in table
    assert "| Griffin-Lim (reference) |" in table and "| ema | 1 | 3 |" in table
    assert (out / "nll_vs_minutes.png").read_bytes()[:4] == b"\x89PNG"
    kept = sorted(p.name for p in (out / "runs" / "ema" / "seed0").glob("*.pt"))
    assert kept == ["ckpt_00000003.pt"]  # scored intermediate checkpoints are removed

    # a second invocation trains nothing: every run's result.json is there
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().out.count("done earlier, skipped") == 2
    # ... and a result made with another budget is not silently reused
    assert main([*argv, "--budget", "steps:4"]) == 1
    assert "was made with budget" in capsys.readouterr().err


def test_budgets_and_run_specs_are_parsed_with_one_line_errors(tmp_path: Path) -> None:
    assert parse_budget("cpu:90").overrides(1000) == [
        "train.steps=1000",
        "train.budget_seconds=90.0",
        "train.budget_clock=process",
        "train.num_workers=0",
    ]
    assert "train.budget_clock=wall" in parse_budget("minutes:2").overrides(10)
    spec = parse_run(
        "wide:model.n_channels=16,data.mel.fmax=7600,train.betas=[0.9, 0.99]", tmp_path
    )
    assert spec.overrides == (
        "model.n_channels=16",
        "data.mel.fmax=7600",
        "train.betas=[0.9, 0.99]",
    )
    for bad, message in [
        ("hours:3", "expected steps:N"),
        ("steps:2.5", "whole steps"),
        ("cpu:x", "not a number"),
    ]:
        with pytest.raises(WaveflowError, match=message):
            parse_budget(bad)
    with pytest.raises(WaveflowError, match="give --base"):
        parse_run("a:train.lr=1", None)
    with pytest.raises(WaveflowError, match="config file not found"):
        parse_run(str(tmp_path / "missing.yaml"), None)


def test_runs_with_different_test_splits_are_refused(
    tmp_path: Path, tiny_ljspeech: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tiny_base(tmp_path)
    argv = [
        "--base", str(base), "a:", "b:data.n_test=2", "--set", f"data.root={tiny_ljspeech}",
        "--budget", "steps:1", "--eval-every", "1", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ablate: error: runs a and b have different test splits")
    assert "\n" not in err and not (tmp_path / "out" / "runs").exists()


def test_seeds_are_summarised_by_mean_std_min_and_max() -> None:
    runs = [
        {"seed": seed, "nll_bits_per_sample": nll, "mel_l1": 1.0, "steps": 10, "process_s": 60.0}
        for seed, nll in enumerate([1.0, 2.0, 4.0])
    ]
    summary = aggregate({"x": runs})["x"]
    nll = summary["nll_bits_per_sample"]
    assert (nll["n"], nll["mean"], nll["min"], nll["max"]) == (3, 7 / 3, 1.0, 4.0)
    assert nll["std"] == pytest.approx(((4 / 3) ** 2 + (1 / 3) ** 2 + (5 / 3) ** 2) ** 0.5 / 3**0.5)
    assert summary["stoi"] == {"n": 0}  # not measured: n/a, not 0
    row = markdown_table({"x": summary}, None).splitlines()[2]
    assert row.startswith("| x | 3 | 10 ± 0 | 1.00 ± 0.00 | n/a | 2.333 ± 1.247 | 1.000 ± 0.000 |")


def test_curve_metrics_score_every_checkpoint_and_unknown_metrics_fail_before_training(
    tmp_path: Path, tiny_ljspeech: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tiny_base(tmp_path)
    common = [
        "--base", str(base), "base:", "--set", f"data.root={tiny_ljspeech}", "--budget",
        "steps:3", "--eval-every", "2", "--seeds", "1", "--metrics", "mel", "--no-griffin-lim",
    ]  # fmt: skip
    plain = tmp_path / "plain"
    assert main([*common, "--out", str(plain)]) == 0
    assert "mel_l1" not in json.loads((plain / "report.json").read_text())["runs"]["base"][0][
        "curve"][0]  # fmt: skip
    capsys.readouterr()  # a result made without curve metrics is not reused for one with them
    assert main([*common, "--curve-metrics", "mel,stoi", "--out", str(plain)]) == 1
    assert "was made with curve_metrics" in capsys.readouterr().err

    out = tmp_path / "curve"
    assert main([*common, "--curve-metrics", "mel,stoi", "--out", str(out)]) == 0
    (run,) = json.loads((out / "report.json").read_text())["runs"]["base"]
    assert [point["step"] for point in run["curve"]] == [2, 3]
    for point in run["curve"]:
        assert 0.0 < point["mel_l1"] and -1.0 <= point["stoi"] <= 1.0
    assert run["curve"][-1]["mel_l1"] == run["mel_l1"]  # the last point is the final model
    assert (out / "nll_vs_minutes.png").read_bytes()[:4] == b"\x89PNG"

    assert main([*common, "--curve-metrics", "loudness", "--out", str(tmp_path / "bad")]) == 1
    assert "unknown metric(s) loudness" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "runs").exists()
