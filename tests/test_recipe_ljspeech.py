"""The LJSpeech recipe (recipes/ljspeech/run.sh) end to end on a tiny corpus, its download
stage without network access, its configs, and the summary table."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import soundfile
from recipe_summary import format_summary, paired_test_files

from waveflow.errors import WaveflowError
from waveflow.train.config import load_config

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "ljspeech"
RUN_SH = RECIPE / "run.sh"
WAVEFLOW = Path(sys.executable).parent / "waveflow"
UNREACHABLE_URL = "http://127.0.0.1:9/LJSpeech-1.1.tar.bz2"
HOP = 256

# A WaveGlow small enough to train a few steps in seconds; same front end as the recipe.
TINY_CONFIG = """\
task: waveglow
model: {n_flows: 2, n_group: 8, n_early_every: 4, n_early_size: 2, n_layers: 2,
        n_channels: 8, hop_length: 256, upsample_kernel: 512}
data: {segment_length: 4096, n_valid: 1, n_test: 1}
train: {steps: 3, batch_size: 2, num_workers: 0, lr: 1.0e-3, log_every: 1, valid_every: 0,
        ckpt_every: 0, media_every: 0, device: cpu}
"""


def run_recipe(*options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run run.sh with the test interpreter's `waveflow`; never reaches the internet."""
    environment = {
        **os.environ,
        "WAVEFLOW": str(WAVEFLOW),
        "LJSPEECH_URL": UNREACHABLE_URL,
        **(env or {}),
    }
    return subprocess.run(
        ["bash", str(RUN_SH), *options],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def ids_of(file_list: Path) -> list[str]:
    return [Path(line.split("|")[0]).stem for line in file_list.read_text().splitlines()]


# ------------------------------------------------------------------------------ stage 0


def test_stage0_offline_fails_and_says_where_to_put_the_data(tmp_path: Path) -> None:
    db_root = tmp_path / "LJSpeech-1.1"
    db_root.mkdir()
    result = run_recipe("--stage", "0", "--stop-stage", "0", "--db-root", str(db_root))
    assert result.returncode != 0
    assert f"cannot download {UNREACHABLE_URL}" in result.stderr
    assert "--db-root /path/to/LJSpeech-1.1" in result.stderr
    assert not (db_root / "metadata.csv").exists()
    assert list(tmp_path.glob("*.tar.bz2*")) == []


def test_stage0_is_skipped_when_the_corpus_is_in_place(tiny_ljspeech: Path) -> None:
    result = run_recipe("--stage", "0", "--stop-stage", "0", "--db-root", str(tiny_ljspeech))
    assert result.returncode == 0, result.stderr
    assert "already in place" in result.stdout


def _fake_archive(tmp_path: Path) -> Path:
    source = tmp_path / "source" / "LJSpeech-1.1"
    (source / "wavs").mkdir(parents=True)
    (source / "metadata.csv").write_text("LJ001-0001|Text.|Text.\n")
    archive = tmp_path / "mirror.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        tar.add(source, arcname="LJSpeech-1.1")
    return archive


def test_stage0_verifies_the_checksum_then_extracts(tmp_path: Path) -> None:
    archive = _fake_archive(tmp_path)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    db_root = tmp_path / "data" / "LJSpeech-1.1"
    env = {"LJSPEECH_URL": archive.as_uri(), "LJSPEECH_SHA256": digest}
    result = run_recipe("--stage", "0", "--stop-stage", "0", "--db-root", str(db_root), env=env)
    assert result.returncode == 0, result.stderr
    assert (db_root / "metadata.csv").read_text() == "LJ001-0001|Text.|Text.\n"
    assert (db_root / "wavs").is_dir()


def test_stage0_rejects_an_archive_with_the_wrong_checksum(tmp_path: Path) -> None:
    archive = _fake_archive(tmp_path)
    db_root = tmp_path / "data" / "LJSpeech-1.1"
    env = {"LJSPEECH_URL": archive.as_uri()}  # the published LJSpeech checksum cannot match
    result = run_recipe("--stage", "0", "--stop-stage", "0", "--db-root", str(db_root), env=env)
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not db_root.exists()
    assert list(db_root.parent.glob("*.tar.bz2*")) == []


def test_unknown_option_is_a_one_line_error() -> None:
    result = run_recipe("--stgae", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == "run.sh: error: unknown option --stgae (see --help)"


# -------------------------------------------------------------------------- stages 1-4


def test_stages_1_to_4_on_a_tiny_corpus(tiny_ljspeech: Path, tmp_path: Path) -> None:
    conf = tmp_path / "tiny.yaml"
    conf.write_text(TINY_CONFIG)
    exp = tmp_path / "exp"
    common = ["--conf", str(conf), "--db-root", str(tiny_ljspeech), "--exp", str(exp)]
    result = run_recipe(
        "--stage", "1", "--stop-stage", "4", "--ngpu", "0", "--metrics", "mel,mrstft", *common
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]

    dump = exp / "dump"
    train, valid, test = (ids_of(dump / f"{name}.txt") for name in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (4, 1, 1)
    all_ids = sorted(line.split("|")[0] for line in (tiny_ljspeech / "metadata.csv").open())
    assert sorted(train + valid + test) == all_ids
    assert [p.stem for p in (dump / "mels" / "test").glob("*.npy")] == test

    trained = load_config(exp / "config.yaml")
    assert trained.data.train_files == str(dump / "train.txt")
    assert trained.data.valid_files == str(dump / "valid.txt")
    assert (exp / "best.pt").is_file() and (exp / "ckpt_00000003.pt").is_file()
    assert list((exp / "tb").iterdir())

    recording = soundfile.info(tiny_ljspeech / "wavs" / f"{test[0]}.wav")
    waveglow = soundfile.info(exp / "wav" / "test" / "waveglow" / f"{test[0]}.wav")
    griffin_lim = soundfile.info(exp / "wav" / "test" / "griffin_lim" / f"{test[0]}.wav")
    assert waveglow.frames == (1 + recording.frames // HOP) * HOP  # frames * hop_length
    assert griffin_lim.frames == recording.frames  # copy-synthesis keeps the input length
    assert waveglow.samplerate == griffin_lim.samplerate == 22050

    summary = json.loads((exp / "eval" / "summary.json").read_text())
    assert summary["test_utterances"] == 1 and summary["step"] == 3
    for key in ("nll_bits_per_sample", "mel_l1", "baseline_mel_l1", "x_real_time"):
        assert math.isfinite(summary[key]), key
    assert summary["x_real_time"] > 0
    metrics = json.loads((exp / "eval" / "metrics.json").read_text())["systems"]
    for system in ("waveglow", "griffin_lim"):  # reference / generated / difference spectrograms
        assert math.isfinite(metrics[system]["per_file"][test[0]]["mel_l1"])
        (png,) = (exp / "eval" / "plots" / system).glob("*.png")
        assert test[0] in png.name and png.read_bytes()[:4] == b"\x89PNG"
    report = (exp / "eval" / "report.html").read_text()  # the listening report
    for system in ("recording", "waveglow", "griffin_lim"):
        assert f'src="report_files/{system}/{test[0]}.' in report
    assert "listening report:" in result.stdout
    assert "held-out NLL" in result.stdout and "x real time" in result.stdout

    # Re-running training continues the run from its latest checkpoint.
    again = run_recipe(
        "--stage", "2", "--stop-stage", "2", "--ngpu", "0", *common,
        "--train-args", "train.steps=4",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert (exp / "ckpt_00000004.pt").is_file()


def test_stage1_uses_external_file_lists(tiny_ljspeech: Path, tmp_path: Path) -> None:
    lists = {"train": ["LJ900-0001", "LJ900-0002", "LJ900-0003"], "valid": ["LJ900-0004"]}
    lists["test"] = ["LJ900-0005", "LJ900-0006"]
    options = []
    for name, ids in lists.items():
        path = tmp_path / f"ljs_audio_text_{name}_filelist.txt"
        path.write_text("".join(f"LJSpeech-1.1/wavs/{i}.wav|Some text.\n" for i in ids))
        options += [f"--{name}-list", str(path)]
    exp = tmp_path / "exp"
    conf = RECIPE / "conf" / "small.yaml"
    result = run_recipe(
        "--stage", "1", "--stop-stage", "1", "--conf", str(conf),
        "--db-root", str(tiny_ljspeech), "--exp", str(exp), *options,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name, ids in lists.items():
        assert ids_of(exp / "dump" / f"{name}.txt") == ids
    assert sorted(p.stem for p in (exp / "dump" / "mels" / "test").iterdir()) == lists["test"]


def test_stage1_reports_a_missing_corpus(tmp_path: Path) -> None:
    conf = RECIPE / "conf" / "small.yaml"
    result = run_recipe(
        "--stage", "1", "--stop-stage", "1", "--conf", str(conf),
        "--db-root", str(tmp_path / "nowhere"), "--exp", str(tmp_path / "exp"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "metadata.csv not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", ["waveglow", "small", "light", "fast"])
def test_recipe_configs_load_without_unknown_keys(name: str) -> None:
    config = load_config(RECIPE / "conf" / f"{name}.yaml")
    assert config.task == "waveglow"
    assert config.model.n_mel_channels == config.data.mel.n_mels
    assert config.model.hop_length == config.data.mel.hop_length
    assert config.loss.sigma == 1.0


def test_waveglow_config_is_the_published_one() -> None:
    config = load_config(RECIPE / "conf" / "waveglow.yaml")
    model = config.model
    assert (model.n_flows, model.n_group, model.n_early_every, model.n_early_size) == (12, 8, 4, 2)
    assert (model.n_layers, model.n_channels, model.kernel_size) == (8, 256, 3)
    assert (config.train.optimizer, config.train.lr, config.train.batch_size) == ("adam", 1e-4, 12)
    assert config.data.segment_length == 16000


# ----------------------------------------------------------------------------- summary


def test_summary_table_shows_every_number() -> None:
    summary = {
        "test_utterances": 5,
        "test_seconds": 12.75,
        "sigma": 0.6,
        "device": "cpu",
        "nll_bits_per_sample": -3.21,
        "untrained_nll_bits_per_sample": 1.348,
        "mismatched_mel_nll_bits_per_sample": -2.5,
        "mel_l1": 1.234,
        "baseline_mel_l1": 0.456,
        "noise_mel_l1": 3.5,
        "x_real_time": 4.0,
    }
    table = format_summary(summary)
    for text in ("-3.210", "1.348", "-2.500", "1.234", "0.456", "3.500", "4.0x real", "12.8 s"):
        assert text in table
    assert len({len(line) for line in table.splitlines()}) == 1  # aligned columns
    assert "Griffin-Lim" not in format_summary({**summary, "baseline_mel_l1": None})


def test_summary_needs_a_mel_for_every_test_recording(tmp_path: Path) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "mels").mkdir()
    (tmp_path / "ref" / "LJ001-0001.wav").write_bytes(b"")
    (tmp_path / "mels" / "LJ001-0002.npy").write_bytes(b"")
    with pytest.raises(WaveflowError, match="same non-empty set of ids"):
        paired_test_files(tmp_path / "ref", tmp_path / "mels")
