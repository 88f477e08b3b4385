"""tools/benchmark.py in --quick mode: every command runs and records sane figures.

No timing assertions: only that the JSON has the documented fields with positive, finite
numbers that are consistent with each other (e.g. kHz = samples / median seconds / 1000).
Most commands run in this process (``--no-isolate``, one torch thread); one run goes through
the real command line and its per-case subprocess.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

from bench.cli import main  # noqa: E402
from bench.flops import count_synthesis_flops, waveglow_flops_per_sample  # noqa: E402
from bench.presets import waveglow_config  # noqa: E402

MACHINE_KEYS = {"cpu_model", "cpu_cores", "torch_version", "device_name", "date"}
TIMING_KEYS = {"median_s", "min_s", "max_s", "q1_s", "q3_s"}


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def run_quick(command: str, out: Path, *extra: str) -> dict:
    argv = [command, "--quick", "--no-isolate", "--threads", "1", "--json", str(out), *extra]
    assert main(argv) == 0
    return json.loads(out.read_text())[command]


def check_timed(result: dict, runs: int = 2) -> None:
    timing = result["timing"]
    assert TIMING_KEYS <= timing.keys()
    assert all(positive(timing[k]) for k in TIMING_KEYS)
    assert timing["runs"] == runs == len(result["seconds"])
    assert timing["min_s"] <= timing["q1_s"] <= timing["median_s"] <= timing["q3_s"]
    assert timing["q3_s"] <= timing["max_s"]
    assert positive(result["peak_bytes"]) and positive(result["baseline_bytes"])
    assert result["torch_threads"] == 1


def check_section(section: dict) -> None:
    assert MACHINE_KEYS <= section["machine"].keys()
    assert section["machine"]["cpu_cores"] >= 1
    assert section["options"]["quick"] is True


def test_synth_quick_json(tmp_path: Path) -> None:
    section = run_quick("synth", tmp_path / "b.json", "--seconds", "0.05,0.1")
    check_section(section)
    assert section["model"]["n_flows"] == 2  # the tiny preset
    assert [r["mel_seconds"] for r in section["results"]] == [0.05, 0.1]
    for r in section["results"]:
        check_timed(r)
        assert r["output_samples"] == r["frames"] * section["model"]["hop_length"]
        assert r["khz"] == pytest.approx(r["output_samples"] / r["timing"]["median_s"] / 1000)
        assert r["x_realtime"] == pytest.approx(r["khz"] * 1000 / 22050)


def test_train_and_glow_accumulate_in_one_file(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    train = run_quick("train", out)
    glow = run_quick("glow", out)
    assert set(json.loads(out.read_text())) == {"train", "glow"}
    for section in (train, glow):
        check_section(section)
    (step,) = train["results"]
    check_timed(step)
    assert step["samples_per_step"] == step["batch_size"] * step["segment_length"]
    assert step["samples_per_s"] == pytest.approx(
        step["samples_per_step"] / step["timing"]["median_s"]
    )
    assert positive(step["audio_seconds_per_s"])
    assert [r["case"] for r in glow["results"]] == ["glow_train", "glow_sample"]
    for r in glow["results"]:
        check_timed(r)
        assert r["images_per_s"] == pytest.approx(r["batch_size"] / r["timing"]["median_s"])


def test_export_quick_json(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    section = run_quick("export", tmp_path / "b.json", "--runs", "3")
    check_section(section)
    (r,) = section["results"]
    assert r["frames"] == 9 and r["output_samples"] == 9 * 256  # 0.1 s of the tiny preset
    assert list(r["backends"]) == ["eager", "torchscript", "onnxruntime"]
    for name, b in r["backends"].items():
        assert b["timing"]["runs"] == 3 == len(b["seconds"])
        assert b["khz"] == pytest.approx(r["output_samples"] / b["timing"]["median_s"] / 1000)
        eager = r["backends"]["eager"]["seconds"]
        ratios = [e / s for e, s in zip(eager, b["seconds"], strict=True)]
        assert b["speedup_vs_eager"] == pytest.approx(sorted(ratios)[1]), name
        assert b["max_abs_diff_vs_eager"] < 1e-4
    assert r["backends"]["eager"]["speedup_vs_eager"] == 1.0
    assert positive(r["export_seconds"]) and positive(r["onnx_bytes"])


def test_floor_quick_json(tmp_path: Path) -> None:
    section = run_quick("floor", tmp_path / "b.json")
    check_section(section)
    floor = section["floor"]
    for key in (
        "matmul_gflops", "synth_flops_per_sample", "floor_samples_per_s", "floor_khz",
        "measured_samples_per_s", "floor_over_measured", "efficiency",
    ):
        assert positive(floor[key]), key
    matmul = {r["dtype"]: r for r in section["results"] if r["case"] == "matmul"}
    assert set(matmul) == {"fp32", "bf16"}
    assert floor["matmul_gflops"] == matmul["fp32"]["gflops"]
    assert floor["floor_samples_per_s"] == pytest.approx(
        floor["matmul_gflops"] * 1e9 / floor["synth_flops_per_sample"]
    )
    assert floor["efficiency"] == pytest.approx(1 / floor["floor_over_measured"])


@pytest.mark.parametrize(
    "options",
    [{}, {"upsampler": "interpolate", "wavenet_conv": "separable", "prior": "conditional"}],
)
def test_counted_flops_match_the_conv_shapes(options) -> None:
    """The FLOP counter on a real forward agrees with the count from the conv shapes, for a
    config with early outputs and odd-sized hops (so neither count can hide a constant)."""
    config = waveglow_config("tiny") | {"n_flows": 5, "n_early_every": 2, "n_layers": 3,
                                        "hop_length": 64, "upsample_kernel": 160} | options
    assert count_synthesis_flops(config, frames=3) == pytest.approx(
        waveglow_flops_per_sample(config), rel=1e-9
    )


def test_command_line_runs_the_case_in_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "bench.json"
    script = str(TOOLS / "benchmark.py")
    ok = subprocess.run(
        [sys.executable, script, "synth", "--quick", "--seconds", "0.05", "--threads", "1",
         "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "kHz" in ok.stdout
    (result,) = json.loads(out.read_text())["synth"]["results"]
    assert result["isolated"] is True and positive(result["peak_bytes"])
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]  # no temp files left



def test_bad_config_key_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: waveglow\nmodel:\n  n_flow: 3\n")
    assert main(["synth", "--quick", "--no-isolate", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'model.n_flow'" in err and "'model.n_flows'" in err


def test_refuses_to_overwrite_a_file_that_is_not_benchmark_json(tmp_path: Path) -> None:
    out = tmp_path / "notes.json"
    out.write_text("not json")
    argv = ["synth", "--quick", "--no-isolate", "--seconds", "0.05", "--json", str(out)]
    assert main(argv) == 1
    assert out.read_text() == "not json"


def test_glow_train_case_uses_the_recipe_schedule_and_stays_finite_where_adam_blows_up() -> None:
    """A fresh Glow as wide and deep per level as the paper's (hidden 512, K=16; 8x8 images,
    2 levels, batch 2 to stay small) blows up after ONE plain Adam step of 1e-3 (the glow
    case's former loop; at the paper's size the loss becomes infinite), while the glow case,
    with the Glow recipe's warm-up, Adamax and clipping, keeps it finite and near its start."""
    from bench.cases import glow_schedule, glow_train_case
    from bench.presets import glow_config

    from waveflow.image.glow import Glow, GlowConfig

    model_config = glow_config(3, 8, 2, 16, 512)
    torch.manual_seed(0)
    glow = Glow.from_config(GlowConfig(**model_config))
    x = torch.rand(2, 3, 8, 8) - 0.5
    glow.initialize(x)
    optimizer = torch.optim.Adam(glow.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        optimizer.zero_grad()
        loss = glow.bits_per_dim(x).mean()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[1] > 10 * losses[0]

    schedule = glow_schedule()
    assert (schedule.optimizer, schedule.lr, schedule.warmup_steps) == ("adamax", 1e-3, 5000)
    spec = {"device": "cpu", "dtype": "fp32", "runs": 2, "warmup": 1, "batch_size": 2,
            "model": model_config}  # fmt: skip
    result = glow_train_case(spec)
    assert result["schedule"]["grad_clip"] == schedule.grad_clip
    assert math.isfinite(result["final_loss"]) and result["final_loss"] < 2 * losses[0]


def test_synth_records_the_precision_it_ran_in(tmp_path: Path, monkeypatch, capsys) -> None:
    """On a CPU without native fp16 units ``--dtype fp16`` runs fp32 and says so."""
    monkeypatch.setattr("waveflow.device.cpu_has_native", lambda dtype: dtype == torch.bfloat16)
    fp16 = run_quick("synth", tmp_path / "a.json", "--seconds", "0.05", "--dtype", "fp16")
    assert fp16["results"][0]["ran_in"] == "fp32"
    assert "(ran in fp32)" in capsys.readouterr().out
    bf16 = run_quick("synth", tmp_path / "b.json", "--seconds", "0.05", "--dtype", "bf16")
    assert bf16["results"][0]["ran_in"] == "bf16"
