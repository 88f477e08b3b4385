"""The universal-vocoder recipe (recipes/universal): corpus preparation from G.722 prompts laid
out like Debian's asterisk-core-sounds packages, its errors, and stages 0-2 + 5 end to end."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from waveflow.audio.formats import pretrained

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "universal"
WAVEFLOW = Path(sys.executable).parent / "waveflow"
LANGS = ("en", "fr", "ru")
SPEECH_PROMPTS = ("alpha", "bravo", "charlie", "delta", "digits/7")

TINY_CONFIG = """\
task: waveglow
model: {n_flows: 2, n_group: 8, n_early_every: 4, n_early_size: 2, n_layers: 2,
        n_channels: 8, hop_length: 256, upsample_kernel: 512}
data: {segment_length: 4096}
train: {steps: 2, batch_size: 2, num_workers: 0, lr: 1.0e-3, log_every: 1, valid_every: 0,
        ckpt_every: 0, media_every: 0, device: cpu}
"""


def encode_g722(path: Path, audio_16k: np.ndarray) -> None:
    """Write float audio at 16 kHz as a raw G.722 file (as Asterisk ships its prompts)."""
    av = pytest.importorskip("av")
    try:
        av.codec.Codec("g722", "w")
    except Exception:  # PyAV raises UnknownCodecError (a ValueError) or FFmpegError
        pytest.skip("this FFmpeg build has no G.722 encoder")
    samples = (np.clip(audio_16k, -1, 1) * 32767).astype(np.int16)[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="g722") as container:
        stream = container.add_stream("g722", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sounds root, docs root) for en/fr/ru: 5 speech prompts of 1.2 s of real speech with
    100 ms of silence around, a beep, silence/1 and an empty prompt; en has a transcript and
    a copyright file."""
    import torchaudio.functional

    root = tmp_path_factory.mktemp("asterisk")
    sounds_root, docs_root = root / "sounds", root / "doc"
    clips = sorted((Path(__file__).parents[1] / "data" / "demo-ljspeech" / "wavs").glob("*.flac"))
    speech, rate = soundfile.read(clips[0], dtype="float32")
    speech = torchaudio.functional.resample(torch.from_numpy(speech), rate, 16000).numpy()
    pad = np.zeros(1600, np.float32)
    for index, lang in enumerate(LANGS):
        for number, prompt in enumerate(SPEECH_PROMPTS):
            start = 4000 * (index + number)
            clip = 0.5 * speech[start : start + 19200]
            encode_g722(sounds_root / lang / f"{prompt}.g722", np.concatenate([pad, clip, pad]))
        t = np.arange(8000) / 16000
        encode_g722(sounds_root / lang / "beep.g722", 0.3 * np.sin(2 * np.pi * 1000 * t))
        encode_g722(sounds_root / lang / "silence" / "1.g722", np.zeros(16000))
        (sounds_root / lang / "is.g722").write_bytes(b"")  # as ru/is.g722 in Debian 12
    transcripts = docs_root / "asterisk-core-sounds-en" / "core-sounds-en.txt.gz"
    transcripts.parent.mkdir(parents=True)
    with gzip.open(transcripts, "wt", encoding="utf-8") as file:
        file.write("; Core Asterisk Sounds in English\n\nalpha: Alpha | one.\nbeep: [a beep]\n")
    (docs_root / "asterisk-core-sounds-en-g722").mkdir()
    (docs_root / "asterisk-core-sounds-en-g722" / "copyright").write_text("CC-BY-SA-3.0\n")
    return sounds_root, docs_root


def run(script: str, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WAVEFLOW": str(WAVEFLOW), "OMP_NUM_THREADS": "1"}
    command = ["bash", str(RECIPE / script)] if script.endswith(".sh") else [
        sys.executable, str(RECIPE / "local" / script)
    ]  # fmt: skip
    return subprocess.run(
        [*command, *options], capture_output=True, text=True, env=env, timeout=600
    )


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def prepare_options(sounds: tuple[Path, Path], db: Path, dump: Path) -> list[str]:
    sounds_root, docs_root = sounds
    return [
        "--db", str(db), "--dump", str(dump), "--sounds-root", str(sounds_root),
        "--docs-root", str(docs_root), "--langs", ",".join(LANGS), "--heldout-lang", "ru",
        "--n-test", "2", "--n-valid", "1",
    ]  # fmt: skip


def test_prepare_data_builds_an_ljspeech_corpus_and_the_splits(sounds, tmp_path):
    db, dump = tmp_path / "db", tmp_path / "dump"
    result = run("prepare_data.py", *prepare_options(sounds, db, dump))
    assert result.returncode == 0, result.stderr
    ids = sorted(f"{lang}_{p.replace('/', '-')}" for lang in LANGS for p in SPEECH_PROMPTS)
    assert sorted(p.stem for p in (db / "wavs").iterdir()) == ids  # no beep, silence, empty
    assert sum("is.g722" in line and "warning" in line for line in result.stderr.splitlines()) == 3
    metadata = dict(line.split("|", 1) for line in lines(db / "metadata.csv"))
    assert metadata["en_alpha"] == "Alpha one.|Alpha one."  # transcript, '|' removed
    assert metadata["fr_alpha"] == "alpha|alpha"  # no transcript installed: the prompt name
    assert (db / "copyright-en").read_text() == "CC-BY-SA-3.0\n"
    assert "Allison Smith" in (db / "ATTRIBUTION.txt").read_text()

    audio, rate = soundfile.read(db / "wavs" / "en_alpha.wav")
    assert rate == 22050 and abs(np.abs(audio).max() - 0.9) < 1e-3
    assert abs(len(audio) / rate - 1.4) < 0.05  # 1.2 s of speech + at most 2 x 100 ms margin

    def stems(name: str) -> list[str]:
        return [Path(line.split("|")[0]).stem for line in lines(dump / f"{name}.txt")]

    tests = {lang: stems(f"test_{lang}") for lang in LANGS}
    prompts = {tuple(i.split("_", 1)[1] for i in found) for found in tests.values()}
    assert len(prompts) == 1 and len(next(iter(prompts))) == 2  # the same 2 prompts everywhere
    assert sorted(stems("test")) == sorted(sum(tests.values(), []))
    train, valid = stems("train"), stems("valid")
    assert sorted(train + valid + stems("test")) == ids and len(valid) == 3
    assert stems("train_no_ru") == [i for i in train if not i.startswith("ru_")]
    assert stems("valid_no_ru") == [i for i in valid if not i.startswith("ru_")]
    assert sorted(p.name for p in (dump / "ref" / "ru").iterdir()) == [
        f"{i}.wav" for i in tests["ru"]
    ]
    stats = json.loads((dump / "stats.json").read_text())
    assert stats["en"]["corpus"]["clips"] == 5 and stats["all"]["test"]["clips"] == 6

    before = {name: (dump / name).read_text() for name in ("train.txt", "test.txt")}
    again = run("prepare_data.py", *prepare_options(sounds, db, dump))
    assert again.returncode == 0 and all((dump / n).read_text() == t for n, t in before.items())


def test_missing_debian_package_is_a_one_line_error(sounds, tmp_path):
    options = prepare_options(sounds, tmp_path / "db", tmp_path / "dump")
    options[options.index("--langs") + 1] = "en,it"
    options[options.index("--heldout-lang") + 1] = "it"
    result = run("run.sh", "--stage", "0", "--stop-stage", "0", *options[2:],
                 "--exp-root", str(tmp_path / "exp"), "--db", str(tmp_path / "db"))  # fmt: skip
    assert result.returncode == 1
    error = result.stderr.strip()
    assert "\n" not in error and error.startswith("prepare_data.py: error: no G.722 prompts")
    assert "asterisk-core-sounds-it-g722" in error
    assert not (tmp_path / "db" / "wavs").exists()


def test_heldout_language_must_be_one_of_the_languages(tmp_path):
    result = run("run.sh", "--langs", "en,fr", "--heldout-lang", "ru")
    assert result.returncode == 2
    assert result.stderr.strip() == "run.sh: error: --heldout-lang ru is not one of --langs en,fr"


@pytest.mark.slow
def test_stages_0_1_2_5_on_a_tiny_corpus(sounds, tmp_path, monkeypatch):
    conf = tmp_path / "tiny.yaml"
    conf.write_text(TINY_CONFIG)
    exp, weights = tmp_path / "exp", tmp_path / "weights"
    options = prepare_options(sounds, tmp_path / "db", exp / "dump")
    options = [o for o in options if o not in ("--dump", str(exp / "dump"))]
    result = run(
        "run.sh", "--stage", "0", "--stop-stage", "2", "--conf", str(conf), *options,
        "--exp-root", str(exp), "--metrics", "mel,mrstft", "--rtf-threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    model_dir = exp / "no_ru"
    assert (model_dir / "best.pt").is_file()
    trained_on = lines(exp / "dump" / "train_no_ru.txt")
    assert trained_on and not any(line.startswith("wavs/ru_") for line in trained_on)

    table = json.loads((model_dir / "eval" / "table.json").read_text())
    rows = {(row["lang"], row["system"]): row for row in table["rows"]}
    assert sorted(rows) == sorted((lang, s) for lang in LANGS for s in ("waveglow", "griffin_lim"))
    assert rows[("ru", "waveglow")]["seen"] is False and rows[("en", "waveglow")]["seen"] is True
    for row in rows.values():
        assert row["n"] == 2 and row["mel_l1"] > 0 and row["pesq_wb"] is None
        assert row["mrstft_sc"] > 0 and row["mrstft_logmag"] > 0
    assert table["speed"]["threads"] == 1 and table["speed"]["x_real_time_waveglow"] > 0
    per_language = json.loads((model_dir / "eval" / "griffin_lim" / "ru.json").read_text())
    assert sorted(per_language["per_file"]) == sorted(
        p.stem for p in (exp / "dump" / "ref" / "ru").iterdir()
    )
    assert rows[("en", "waveglow")]["beats_griffin_lim"] is None  # PESQ not measured
    markdown = (model_dir / "eval" / "table.md").read_text()
    assert (
        "**no** (unseen language)" in markdown and "Synthesis speed on 1 CPU threads" in markdown
    )
    for lang in LANGS:  # copy synthesis keeps each clip's length
        for ref in (exp / "dump" / "ref" / lang).iterdir():
            generated = soundfile.info(model_dir / "wav" / ref.name)
            assert generated.frames == soundfile.info(ref).frames

    packaged = run(
        "run.sh", "--stage", "5", "--stop-stage", "5", *options, "--exp-root", str(exp),
        "--package-checkpoint", str(model_dir / "best.pt"), "--weights-dir", str(weights),
    )  # fmt: skip
    assert packaged.returncode == 0, packaged.stderr[-3000:]
    assert "fp16 weights change the synthesis by" in packaged.stdout
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", weights)
    model, mel_config = pretrained.load_default()
    assert (mel_config.sample_rate, mel_config.n_mels) == (22050, 80)
    assert model.config.n_flows == 2


def test_evaluate_judges_waveglow_against_griffin_lim(tmp_path, speech_wav):
    """local/evaluate.py: a perfect copy beats a noisy one on PESQ and MR-STFT, and not the
    other way round; the verdict and the unseen language reach table.json and table.md."""
    pytest.importorskip("pesq")
    audio, rate = soundfile.read(speech_wav, dtype="float32")
    audio = audio[: 2 * rate]
    noisy = audio + 0.05 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)
    ref, clean, noise = tmp_path / "ref", tmp_path / "clean", tmp_path / "noise"
    for lang in ("en", "ru"):
        for path, samples in (
            (ref / lang / f"{lang}_a.wav", audio),
            (clean / f"{lang}_a.wav", audio),
            (noise / f"{lang}_a.wav", noisy),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, samples, rate)
    common = ["--ref-root", str(ref), "--langs", "en,ru", "--unseen", "ru"]
    common += ["--metrics", "mel,mrstft,pesq"]
    for gen, baseline, verdict in ((clean, noise, True), (noise, clean, False)):
        out = tmp_path / f"eval_{verdict}"
        result = run("evaluate.py", *common, "--gen", str(gen), "--baseline", str(baseline),
                     "--out", str(out))  # fmt: skip
        assert result.returncode == 0, result.stderr
        table = json.loads((out / "table.json").read_text())
        wave = [row for row in table["rows"] if row["system"] == "waveglow"]
        assert [row["beats_griffin_lim"] for row in wave] == [verdict, verdict]
        assert [row["seen"] for row in wave] == [True, False] and table["speed"] is None
        markdown = (out / "table.md").read_text()
        assert f"en: {'yes' if verdict else '**no**'}" in markdown
        assert json.loads((out / "waveglow" / "ru.json").read_text())["per_file"]["ru_a"]["pesq_wb"]


@pytest.mark.slow
def test_asterisk16k_trains_and_synthesizes_at_the_native_rate(
    sounds, tmp_path, speech_wav, capsys
):
    """conf/asterisk16k.yaml (the `16k` mel preset) briefly: the corpus, the checkpoint and the
    synthesis are at 16 kHz, the listening reports play them; 22050 Hz input is refused with
    both rates in one line, and so is packaging it as the 22050 Hz default vocoder."""
    from waveflow.checkpoint import load_checkpoint
    from waveflow.cli import main

    exp = tmp_path / "exp"
    options = prepare_options(sounds, tmp_path / "db", exp / "dump")
    options = [o for o in options if o not in ("--dump", str(exp / "dump"))]
    conf = RECIPE / "conf" / "asterisk16k.yaml"
    brief = "train.steps=2 train.batch_size=2 train.valid_every=0 train.ckpt_every=0 "
    brief += "data.segment_length=4096"
    result = run(
        "run.sh", "--stage", "0", "--stop-stage", "2", "--conf", str(conf), *options,
        "--exp-root", str(exp), "--metrics", "mel", "--rtf-threads", "1", "--train-args", brief,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert {soundfile.info(p).samplerate for p in (tmp_path / "db" / "wavs").iterdir()} == {16000}
    model_dir = exp / "no_ru"
    mel = load_checkpoint(model_dir / "best.pt")["config"]["data"]["mel"]
    assert (mel["sample_rate"], mel["hop_length"], mel["fmin"], mel["fmax"]) == (
        16000, 256, 80.0, 7600.0
    )  # fmt: skip  # the preset, stored expanded
    for ref in (exp / "dump" / "ref" / "en").iterdir():
        generated = soundfile.info(model_dir / "wav" / ref.name)
        assert generated.samplerate == 16000 and generated.frames == soundfile.info(ref).frames
    for lang in LANGS:
        report = (model_dir / "eval" / f"report_{lang}.html").read_text()
        assert report.count("<audio ") == 3 * 2  # recording, WaveGlow, Griffin-Lim x 2 clips

    checkpoint = ["--checkpoint", str(model_dir / "best.pt")]
    capsys.readouterr()
    argv = ["copy-synthesis", str(speech_wav), *checkpoint, "--out", str(tmp_path / "o")]
    assert main(argv) == 1  # speech_wav is at 22050 Hz
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert "sample rate 22050 Hz, expected 16000 Hz" in line
    assert main([*argv, "--sample-rate", "22050"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "expects 16000 Hz, received 22050 Hz" in line
    packaged = run(
        "run.sh", "--stage", "5", "--stop-stage", "5", "--conf", str(conf), *options,
        "--exp-root", str(exp), "--weights-dir", str(tmp_path / "weights"),
    )  # fmt: skip
    assert packaged.returncode == 1 and not (tmp_path / "weights").exists()
    assert "stage 5 packages the default vocoder, a 22050 Hz" in packaged.stderr
