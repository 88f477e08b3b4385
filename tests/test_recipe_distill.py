"""The distillation recipe (recipes/distill/run.sh) end to end on a tiny corpus and teacher,
its bad-input errors, its config, and the report table."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import soundfile
import torch
from distill_report import format_report
from torch import nn

from waveflow.audio.data.features import MelConfig
from waveflow.audio.models.waveglow import WaveGlow, WaveGlowConfig
from waveflow.audio.tasks.vocoder import VocoderDataConfig
from waveflow.dataclass_dict import to_dict
from waveflow.train.config import load_config

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "distill"
RUN_SH = RECIPE / "run.sh"
WAVEFLOW = Path(sys.executable).parent / "waveflow"
HOP = 256

TINY_STUDENT = """\
task: distill
model: {n_flows: 2, n_layers: 2, n_channels: 8, hop_length: 256, upsample_kernel: 512}
data: {segment_length: 2048, n_valid: 1, n_test: 1}
loss: {power_loss_weight: 0.1}
train: {steps: 2, batch_size: 2, num_workers: 0, lr: 1.0e-3, log_every: 1, valid_every: 0,
        ckpt_every: 0, media_every: 0, device: cpu}
"""


def tiny_teacher(path: Path, mel: MelConfig) -> Path:
    """A small random (not identity) WaveGlow checkpoint trained on the front end ``mel``."""
    torch.manual_seed(0)
    config = WaveGlowConfig(
        n_flows=2, n_early_every=4, n_layers=2, n_channels=8, upsample_kernel=512
    )
    model = WaveGlow.from_config(config)
    for module in model.modules():
        if hasattr(module, "end"):
            nn.init.normal_(module.end.weight, std=0.05)
    data = to_dict(VocoderDataConfig(mel=mel))
    torch.save(
        {"task": "waveglow", "config": {"model": to_dict(config), "data": data},
         "model": model.state_dict(), "step": 7},
        path,
    )  # fmt: skip
    return path


def run_recipe(*options: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "WAVEFLOW": str(WAVEFLOW)}
    return subprocess.run(
        ["bash", str(RUN_SH), *options],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_stages_1_to_4_on_a_tiny_corpus(tiny_ljspeech: Path, tmp_path: Path) -> None:
    conf = tmp_path / "student.yaml"
    conf.write_text(TINY_STUDENT)
    teacher = tiny_teacher(tmp_path / "teacher.pt", MelConfig())
    exp = tmp_path / "exp"
    result = run_recipe(
        "--teacher", str(teacher), "--conf", str(conf), "--db-root", str(tiny_ljspeech),
        "--exp", str(exp),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]

    trained = load_config(exp / "config.yaml")
    assert trained.task == "distill" and trained.data.teacher == str(teacher)
    assert trained.data.train_files == str(exp / "dump" / "train.txt")
    assert (exp / "best.pt").is_file()
    test_id = (exp / "dump" / "test.txt").read_text().split("|")[0].split("/")[-1][:-4]
    recording = soundfile.info(tiny_ljspeech / "wavs" / f"{test_id}.wav")
    for model in ("teacher", "student"):
        wav = soundfile.info(exp / "wav" / "test" / model / f"{test_id}.wav")
        assert wav.frames == (1 + recording.frames // HOP) * HOP
        metrics = json.loads((exp / "eval" / "metrics.json").read_text())["systems"][model]
        assert math.isfinite(metrics["per_file"][test_id]["mel_l1"])
        report = (exp / "eval" / "report.html").read_text()  # the listening report
        assert f'src="report_files/{model}/{test_id}.wav"' in report

    summary = json.loads((exp / "eval" / "summary.json").read_text())
    assert summary["test_utterances"] == 1
    for key in (
        "teacher_x_real_time", "student_x_real_time", "student_speedup",
        "teacher_mel_l1", "student_mel_l1", "teacher_nll_of_recordings",
        "teacher_nll_of_teacher_audio", "teacher_nll_of_student_audio",
    ):  # fmt: skip
        assert math.isfinite(summary[key]), key
    assert summary["student_speedup"] == (
        summary["student_x_real_time"] / summary["teacher_x_real_time"]
    )
    assert "x the teacher's speed" in result.stdout


def test_teacher_is_required() -> None:
    result = run_recipe("--stage", "2")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("run.sh: error: --teacher CKPT is required")
    result = run_recipe("--teacher", "/nonexistent/teacher.pt")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "run.sh: error: teacher checkpoint /nonexistent/teacher.pt not found"
    )


def test_student_config_loads_and_matches_the_ljspeech_front_end() -> None:
    student = load_config(RECIPE / "conf" / "student.yaml")
    teacher = load_config(RECIPE.parent / "ljspeech" / "conf" / "small.yaml")
    assert student.task == "distill"
    assert student.data.mel == teacher.data.mel
    assert student.model.hop_length == teacher.model.hop_length
    assert student.data.segment_length % teacher.model.n_group == 0


def test_report_table_shows_both_models() -> None:
    summary = {
        "device": "cpu", "sigma": 0.6, "teacher_params": 1234567, "student_params": 89012,
        "teacher_x_real_time": 2.0, "student_x_real_time": 4.0,
        "student_speedup": 2.0, "teacher_mel_l1": 1.5, "student_mel_l1": 2.25,
        "teacher_nll_of_recordings": -3.5, "teacher_nll_of_teacher_audio": -2.75,
        "teacher_nll_of_student_audio": -1.125,
    }  # fmt: skip
    table = format_report(summary)
    for text in ("1,234,567", "89,012", "2.000", "4.000", "2.00x", "1.500", "2.250", "-3.500"):
        assert text in table
    assert "-2.750" in table and "-1.125" in table
    assert len({len(line) for line in table.splitlines()}) == 1
