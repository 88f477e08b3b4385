"""The IAF student and `task: distill`: exact sampling/density round trip, a KL that training
lowers with a frozen teacher, the engine from the Python API and the CLI, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml
from flow_checks import assert_bijective
from torch import nn

from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import load_audio
from waveflow.audio.formats.vocoder_file import load_vocoder
from waveflow.audio.models.student import IAFStudent, IAFStudentConfig
from waveflow.audio.models.waveglow import WaveGlowConfig
from waveflow.audio.tasks.distill import (
    DistillDataConfig,
    DistillLossConfig,
    DistillTask,
    power_loss,
)
from waveflow.audio.tasks.vocoder import FlowVocoderLossConfig, VocoderDataConfig, WaveGlowTask
from waveflow.cli import main
from waveflow.dataclass_dict import to_dict
from waveflow.errors import WaveflowError
from waveflow.task import get_task
from waveflow.train.config import parse_config
from waveflow.train.engine import train

N_MELS = 20
MEL = MelConfig(n_mels=N_MELS)
TEACHER = WaveGlowConfig(
    n_mel_channels=N_MELS, n_flows=2, n_group=8, n_early_every=4, n_early_size=2, n_layers=2,
    n_channels=8, upsample_kernel=512,
)  # fmt: skip
STUDENT = IAFStudentConfig(
    n_mel_channels=N_MELS, n_flows=2, n_layers=3, n_channels=8, upsample_kernel=512
)


def perturbed_student(dtype: torch.dtype = torch.float32) -> IAFStudent:
    """A student whose flows are not the identity (a fresh one has zero output layers)."""
    torch.manual_seed(0)
    student = IAFStudent(STUDENT)
    for module in student.modules():
        if hasattr(module, "end"):
            nn.init.normal_(module.end.weight, std=0.1)
    return student.to(dtype)


@pytest.fixture(scope="module")
def teacher_checkpoint(tmp_path_factory, demo_corpus) -> Path:
    """A tiny WaveGlow trained 15 steps on 4 real 1024-sample crops (its density is far from
    the N(0, 1) noise of a fresh student), saved as a native checkpoint."""
    torch.manual_seed(0)
    clips = sorted((demo_corpus / "wavs").glob("*.flac"))[:4]
    audio = torch.stack([load_audio(clip, MEL.sample_rate)[4096:5120] for clip in clips])
    batch = (audio, MelSpectrogram(MEL)(audio))
    task = WaveGlowTask()
    model = task.build_model(TEACHER)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        optimizer.zero_grad()
        task.loss(model, batch, FlowVocoderLossConfig())["loss"].backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    config = {"model": to_dict(TEACHER), "data": to_dict(VocoderDataConfig(mel=MEL))}
    torch.save({"task": "waveglow", "config": config, "model": model.state_dict()}, path)
    return path


def distill_data(root: Path, teacher: Path | str, **overrides) -> DistillDataConfig:
    fields = {"mel": MEL, "segment_length": 1024, "n_valid": 1, "n_test": 1, **overrides}
    return DistillDataConfig(root=str(root), teacher=str(teacher), **fields)


# --------------------------------------------------------------------------- the student


def test_student_flow_is_exact_in_float64() -> None:
    student = perturbed_student(torch.float64)
    mel = torch.randn(2, N_MELS, 1, dtype=torch.float64)
    cond = student.upsample(mel, 12)
    assert_bijective(student.flow.transform, torch.randn(2, 1, 12, dtype=torch.float64), cond)


def test_parallel_sampling_inverts_the_sequential_density_pass() -> None:
    student = perturbed_student(torch.float64)
    mel = torch.randn(2, N_MELS, 1, dtype=torch.float64)
    z = torch.randn(2, 40, dtype=torch.float64)
    audio, sample_logdet = student(z, mel, reverse=True)
    z_back, density_logdet = student(audio, mel)
    torch.testing.assert_close(z_back, z, atol=1e-10, rtol=0)
    torch.testing.assert_close(density_logdet, -sample_logdet, atol=1e-10, rtol=0)
    log_q = student.flow.base.log_prob(z) - sample_logdet
    torch.testing.assert_close(student.log_prob(audio, mel), log_q)


def test_infer_gives_frames_times_hop_samples() -> None:
    student = perturbed_student()
    mel = torch.randn(2, N_MELS, 3)
    generator = torch.Generator().manual_seed(0)
    audio = student.infer(mel, sigma=0.6, generator=generator)
    assert audio.shape == (2, 3 * 256) and torch.isfinite(audio).all()
    with pytest.raises(WaveflowError, match="IAFStudent: mel has 7 channels"):
        student.infer(torch.randn(1, 7, 3))


# ------------------------------------------------------------------------------ the loss


def test_kl_is_finite_and_training_lowers_it(teacher_checkpoint, tiny_ljspeech) -> None:
    task = get_task("distill")
    assert isinstance(task, DistillTask)
    torch.manual_seed(0)
    student = task.build_model(STUDENT)
    data = distill_data(tiny_ljspeech, teacher_checkpoint)
    options = DistillLossConfig(power_loss_weight=0.0)
    train_set, _ = task.build_datasets(data, STUDENT)
    batch = next(iter(torch.utils.data.DataLoader(train_set, batch_size=2)))
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)

    def mean_kl(repeats: int = 4) -> float:
        torch.manual_seed(1)
        with torch.no_grad():
            kls = [float(task.loss(student, batch, options)["kl"]) for _ in range(repeats)]
            return sum(kls) / repeats

    before = mean_kl()
    for _ in range(15):
        optimizer.zero_grad()
        out = task.loss(student, batch, options)
        assert all(torch.isfinite(v) and v.dim() == 0 for v in out.values())
        out["loss"].backward()
        optimizer.step()
    assert all(p.grad is None for p in task.teacher.parameters())  # the teacher stays frozen
    after = mean_kl()
    assert before > 0.5  # unit-variance noise is far from the trained teacher's audio
    assert after < before - 0.3, (before, after)


def test_power_loss_is_zero_for_the_same_audio_and_grows_with_the_gain() -> None:
    audio = 0.1 * torch.randn(2, 4096)
    assert float(power_loss(audio, audio, MEL)) == 0
    assert 0 < float(power_loss(2 * audio, audio, MEL)) < float(power_loss(4 * audio, audio, MEL))


# ----------------------------------------------------------------------- engine, CLI, API


def distill_yaml(tmp_path: Path, root: Path, teacher: Path, **data) -> Path:
    config = {
        "task": "distill",
        "model": to_dict(STUDENT),
        "data": {"root": str(root), "mel": {"n_mels": N_MELS}, "segment_length": 1024,
                 "n_valid": 1, "n_test": 1, "teacher": str(teacher), **data},
        "train": {"steps": 2, "batch_size": 2, "num_workers": 0, "log_every": 1,
                  "valid_every": 0, "ckpt_every": 0, "media_every": 0, "device": "cpu",
                  "lr": 1e-3, "exp_dir": str(tmp_path / "exp")},
    }  # fmt: skip
    path = tmp_path / "distill.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_distill_through_the_python_api(tmp_path, teacher_checkpoint, tiny_ljspeech) -> None:
    path = distill_yaml(tmp_path, tiny_ljspeech, teacher_checkpoint)
    metrics = train(parse_config(yaml.safe_load(path.read_text())))
    assert {"valid/kl", "valid/power_loss", "train/student_entropy"} <= set(metrics)
    student, mel_config = load_vocoder(tmp_path / "exp" / "best.pt", torch.device("cpu"))
    assert isinstance(student, IAFStudent) and mel_config == MEL
    assert student.infer(torch.zeros(1, N_MELS, 2)).shape == (1, 512)


def test_distill_from_the_cli_then_synthesize(
    tmp_path, teacher_checkpoint, tiny_ljspeech, capsys
) -> None:
    path = distill_yaml(tmp_path, tiny_ljspeech, "missing.pt")
    exp = tmp_path / "exp"
    assert main(["train", "--config", str(path), f"data.teacher={teacher_checkpoint}"]) == 0
    mel = tmp_path / "mels" / "clip.npy"
    mel.parent.mkdir()
    np.save(mel, np.full((N_MELS, 3), -5.0, dtype=np.float32))
    out = tmp_path / "wav"
    assert (
        main(["synthesize", "--checkpoint", str(exp / "best.pt"), str(mel), "--out", str(out)]) == 0
    )
    assert soundfile.info(out / "clip.wav").frames == 3 * 256
    evaluate = ["evaluate", "--ref", str(out), "--checkpoint", str(exp / "best.pt")]
    assert main(evaluate) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("waveflow evaluate: error:") and "is an IAF student" in err


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("mel_change", "option"),
    [({"fmax": 7600.0}, "fmax"), ({"n_fft": 2048, "win_length": 2048}, "n_fft")],
)
def test_a_teacher_with_another_front_end_is_a_one_line_error(
    mel_change, option, teacher_checkpoint, tiny_ljspeech
) -> None:
    data = distill_data(
        tiny_ljspeech, teacher_checkpoint, mel=MelConfig(n_mels=N_MELS, **mel_change)
    )
    with pytest.raises(WaveflowError, match=rf"^data\.mel\.{option} is .* but the teacher") as err:
        DistillTask().build_datasets(data, STUDENT)
    assert "\n" not in str(err.value)


def test_missing_or_wrong_teacher_is_named(tmp_path, teacher_checkpoint, tiny_ljspeech) -> None:
    with pytest.raises(WaveflowError, match="data.teacher: name the teacher"):
        DistillTask().build_datasets(distill_data(tiny_ljspeech, ""), STUDENT)
    with pytest.raises(WaveflowError, match="data.teacher: checkpoint not found"):
        DistillTask().build_datasets(distill_data(tiny_ljspeech, tmp_path / "no.pt"), STUDENT)
    student = tmp_path / "student.pt"
    config = {"model": to_dict(STUDENT), "data": to_dict(distill_data(tiny_ljspeech, student))}
    torch.save(
        {"task": "distill", "config": config, "model": IAFStudent(STUDENT).state_dict()}, student
    )
    with pytest.raises(WaveflowError, match="holds an IAF student; the teacher must be a WaveGlow"):
        DistillTask().build_datasets(distill_data(tiny_ljspeech, student), STUDENT)
    for length, problem in ((1028, "must be a multiple"), (512, "must be >= data.mel.n_fft")):
        with pytest.raises(WaveflowError, match=rf"segment_length \({length}\) {problem}"):
            DistillTask().build_datasets(
                distill_data(tiny_ljspeech, teacher_checkpoint, segment_length=length), STUDENT
            )


def test_cli_names_the_differing_front_end_option_in_one_line(
    tmp_path, teacher_checkpoint, tiny_ljspeech, capsys
) -> None:
    path = distill_yaml(tmp_path, tiny_ljspeech, teacher_checkpoint)
    assert main(["train", "--config", str(path), "data.mel.fmin=50.0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("waveflow train: error: data.mel.fmin is 50.0 but the teacher")
    assert err.count("\n") == 1
    assert not (tmp_path / "exp" / "best.pt").exists()
