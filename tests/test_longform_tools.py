"""tools/benchmark.py versus / memory and tools/gpu_check.sh: they run and record sane figures.

No timing assertions: ratios and rates must be positive and consistent; the side-by-side
command must first find that waveflow and the reference of NVIDIA's maths agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from bench.cli import main  # noqa: E402
from bench.gather import gather  # noqa: E402


def test_versus_quick_alternates_and_reports_ratios(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    argv = ["versus", "--quick", "--threads", "1", "--runs", "2", "--warmup", "0"]
    assert main([*argv, "--json", str(out)]) == 0
    section = json.loads(out.read_text())["versus"]
    assert section["equivalence"]["max_abs_diff_sigma0"] < 1e-4
    cases = {r["case"]: r for r in section["results"]}
    assert set(cases) == {
        "synth reference fp32", "synth waveflow fp32", "train reference fp32",
        "train waveflow fp32", "glow reference fp32", "glow waveflow fp32",
    }  # fmt: skip
    for r in cases.values():
        assert len(r["seconds"]) == 2 and r["median_s"] > 0 and r["per_s"] > 0
        reference = cases[f"{r['kind']} reference fp32"]["median_s"]
        assert r["ratio"] == pytest.approx(reference / r["median_s"])
    assert cases["synth reference fp32"]["ratio"] == 1.0
    assert cases["glow waveflow fp32"]["per_s"] == pytest.approx(
        2 / cases["glow waveflow fp32"]["median_s"]
    )  # images/s of the quick Glow batch
    for name in ("synth reference fp32", "synth waveflow fp32"):  # the op counts
        count = cases[name]["op_count"]
        assert count["ops"] > count["convolutions"] + count["matrix_products"] > 0
    assert cases["train waveflow fp32"]["op_count"] is None


def test_memory_quick_streams_and_records_peaks(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    assert main(["memory", "--quick", "--no-isolate", "--threads", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["memory"]["results"]
    assert [(r["mode"], r["mel_seconds"]) for r in results] == [
        ("stream", 0.5), ("stream", 2.0), ("offline", 0.5), ("offline", 2.0),
    ]  # fmt: skip
    for r in results:
        assert r["samples"] == r["frames"] * 256 and r["peak_bytes"] >= r["baseline_bytes"] > 0
    assert results[3]["io_bytes"] == 4 * results[3]["frames"] * (80 + 256)


def test_versus_rejects_several_durations() -> None:
    assert main(["versus", "--quick", "--seconds", "1,2"]) == 1


def test_gpu_check_script_parses_and_documents_itself() -> None:
    script = ROOT / "tools" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    usage = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--dry-run" in usage.stdout and "H200" in usage.stdout
    bad = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr


def test_gather_checks_the_goals(tmp_path: Path) -> None:
    (tmp_path / "steps.tsv").write_text("synth_bf16_b1\t0\t12\ntrain_bf16\t0\t30\nversus\t1\t5\n")
    synth = {"synth": {"results": [{"samples_per_s": 12e6}]}}
    (tmp_path / "synth_bf16_b1.json").write_text(json.dumps(synth))
    train = {"train": {"results": [{"samples_per_s": 1e6}]}}
    (tmp_path / "train_bf16.json").write_text(json.dumps(train))
    (tmp_path / "versus.log").write_text("line\nTraceback\nboom\n")
    record = gather(tmp_path, dry_run=False)
    assert record["goals"]["synth_bf16_b1_samples_per_s"]["met"]
    assert not record["goals"]["train_bf16_samples_per_s"]["met"]
    assert record["failed"] == ["versus"]
    assert record["steps"][2]["log_tail"][-1] == "boom"


@pytest.mark.slow
def test_gpu_check_cpu_fallback_runs_a_step_end_to_end(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        ["bash", str(ROOT / "tools" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path),
         "--only", "^(synth_fp32_b1|torchrun_allreduce)$"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    (written,) = tmp_path.glob("gpu-dryrun-*.json")
    record = json.loads(written.read_text())
    assert record["dry_run"] is True and record["failed"] == []
    assert [s["name"] for s in record["steps"]] == ["synth_fp32_b1", "torchrun_allreduce"]
    assert record["steps"][0]["result"]["synth"]["results"][0]["samples_per_s"] > 0
