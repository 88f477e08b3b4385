"""Hostile and careless inputs, per command: each is refused with ONE clear line, nothing from a
file is run, nothing blocks, nothing is left behind (issue 12).

`CASES` is the table: (command, what is wrong, argv, exit code, text the error line must hold).
The tests after it cover what a table row cannot: interrupts, full disks, memory bounds.
"""

from __future__ import annotations

import errno
import gzip
import math
import os
import signal
import subprocess
import sys
import threading
import tracemalloc
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from reference import nvidia_maths as nl
from vocoder_files import log_mel, native_checkpoint

import waveflow.atomic as atomic
from waveflow.audio.data.corpus import AudioSegmentDataset
from waveflow.audio.data.features import MelConfig
from waveflow.audio.data.io import load_audio
from waveflow.checkpoint import load_model, save_checkpoint
from waveflow.cli import main
from waveflow.dataclass_dict import from_dict
from waveflow.errors import WaveflowError
from waveflow.image.idx import read_idx
from waveflow.limits import LIMITS
from waveflow.task import get_task

ROOT = Path(__file__).resolve().parents[1]
RATE = 22050


def write_wav_with_rate(path: Path, rate: int) -> None:
    """A valid 16-bit WAV whose header claims `rate` Hz (patched in: libsndfile won't write it)."""
    soundfile.write(path, np.zeros(4000, dtype=np.int16), 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = rate.to_bytes(4, "little")
    data[28:32] = (rate * 2).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def hostile_checkpoint(path: Path, source: Path, **model: object) -> None:
    """The tiny native checkpoint at `source` with its config's model section changed."""
    ckpt = torch.load(source, weights_only=True)
    ckpt["config"]["model"].update(model)
    torch.save(ckpt, path)


def glow_checkpoint(path: Path, **model: object) -> None:
    task = get_task("glow")
    values = {"in_channels": 1, "image_size": 8, "n_levels": 2, "n_steps": 2, "hidden_channels": 8}
    cfg = from_dict(task.model_config, values, "model")
    state = task.build_model(cfg).state_dict()
    config = {"model": {**asdict(cfg), **model}, "data": {"dataset": "mnist", "root": "nowhere"}}
    save_checkpoint({"task": "glow", "config": config, "model": state}, path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of hostile files (see the names) and good ones to compare with."""
    d = tmp_path_factory.mktemp("hostile")
    native_checkpoint(d / "native.pt")
    hostile_checkpoint(d / "wide.pt", d / "native.pt", n_channels=100_000)
    hostile_checkpoint(d / "deep.pt", d / "native.pt", n_flows=20_000, n_early_every=100_000)
    hostile_checkpoint(d / "deep_early.pt", d / "native.pt", n_flows=20_000)
    ckpt = torch.load(d / "native.pt", weights_only=True)
    ckpt["model"] = {f"foreign.block{i}.weight": torch.zeros(4) for i in range(400)}
    torch.save(ckpt, d / "foreign.pt")
    glow_checkpoint(d / "glow.pt")
    glow_checkpoint(d / "glow_wide.pt", hidden_channels=1_000_000)
    data = (d / "glow.pt").read_bytes()
    (d / "glow_cut.pt").write_bytes(data[: len(data) // 2])
    nl.save_nvidia_checkpoint(nl.make_reference(), d / "nvidia.pt")
    (d / "ckpt_dir.pt").mkdir()
    np.save(d / "mel.npy", log_mel(80, 9, 0))
    (d / "mels").mkdir()
    np.save(d / "mels" / "a.npy", log_mel(80, 9, 0))
    np.save(d / "mels" / "b.npy", log_mel(80, 9, 1))
    os.mkfifo(d / "mels" / "a_fifo.npy")
    torch.save({"x": torch.zeros(2)}, d / "dict.pt")
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    (d / "evil.pt").write_bytes(evil)
    soundfile.write(d / "short.wav", np.zeros(100, dtype=np.int16), RATE, subtype="PCM_16")
    (d / "text.mp3").write_text("not audio\n" * 50)
    write_wav_with_rate(d / "giga.wav", 2_000_000_000)
    loud = np.sin(np.arange(4000) / 5.0).astype(np.float32) * 1.5
    soundfile.write(d / "loud.wav", loud, RATE, subtype="FLOAT")
    (d / "wavs").mkdir()
    speech = soundfile.read(sorted((ROOT / "data/demo-ljspeech/wavs").glob("*.flac"))[0])[0]
    for name in ("a", "b"):
        soundfile.write(d / "wavs" / f"{name}.wav", speech[:RATE], RATE, subtype="PCM_16")
    os.mkfifo(d / "wavs" / "a_fifo.wav")
    (d / "seg.yaml").write_text(
        "task: waveglow\nmodel: {n_flows: 4, n_group: 8, n_early_every: 2, n_early_size: 2, "
        "n_layers: 2, n_channels: 8}\n"
        f"data: {{root: {ROOT / 'data/demo-ljspeech'}, segment_length: 16001}}\n"
        f"train: {{exp_dir: {d / 'exp'}, steps: 1, num_workers: 0, device: cpu}}\n"
    )
    os.mkfifo(d / "fifo.yaml")
    return d


S, M, C, E, P, T = "synthesize", "mel", "convert", "evaluate", "sample", "train"
CASES = [
    # command, what is wrong, argv ({d} = the files folder), exit code, the error line holds
    (S, "checkpoint is a folder", "--checkpoint {d}/ckpt_dir.pt {d}/mel.npy", 1, "is a directory"),
    (S, "checkpoint is a device", "--checkpoint /dev/null {d}/mel.npy", 1, "is a device"),
    (
        S,
        "config asks for 100000 channels",
        "--checkpoint {d}/wide.pt {d}/mel.npy",
        1,
        "more than the limit of 2,000,000,000",
    ),
    (
        S,
        "config asks for 20000 flows",
        "--checkpoint {d}/deep.pt {d}/mel.npy",
        1,
        "at least 20,002 tensors",
    ),
    (
        S,
        "state dict of another model",
        "--checkpoint {d}/foreign.pt {d}/mel.npy",
        1,
        "does not match the model: 86 ",
    ),
    (S, "a FIFO among the mels", "--checkpoint {d}/native.pt {d}/mels", 1, "is a FIFO"),
    (
        S,
        "unpickling would import os.system",
        "--checkpoint {d}/native.pt {d}/evil.pt",
        1,
        "it would import",
    ),
    (
        S,
        "negative sigma",
        "--checkpoint {d}/native.pt {d}/mel.npy --sigma -1",
        2,
        "argument --sigma: must be a finite number >= 0",
    ),
    (
        S,
        "NaN denoise",
        "--checkpoint {d}/native.pt {d}/mel.npy --denoise nan",
        2,
        "argument --denoise",
    ),
    (
        S,
        "zero sample rate",
        "--checkpoint {d}/native.pt {d}/mel.npy --sample-rate 0",
        2,
        "argument --sample-rate: must be a positive integer",
    ),
    (
        S,
        "limit lowered below the model",
        "--checkpoint {d}/native.pt {d}/mel.npy",
        1,
        "more than the limit of 100 ",
    ),
    (M, "too short", "{d}/short.wav", 1, "short.wav"),
    (M, "text named .mp3", "{d}/text.mp3", 1, "text.mp3: not a recognised audio format"),
    (M, "/dev/null", "/dev/null", 1, "/dev/null: is a device"),
    (M, "a FIFO among the wavs", "{d}/wavs", 1, "a_fifo.wav: is a FIFO"),
    (M, "header claims 2 GHz", "{d}/giga.wav --resample", 1, "cannot resample from 2000000000 Hz"),
    (M, "zero sample rate", "{d}/wavs --sample-rate 0", 2, "argument --sample-rate"),
    (C, "already native", "{d}/native.pt {out}/x.pt", 1, "already a native waveflow checkpoint"),
    (C, "source is a folder", "{d}/ckpt_dir.pt {out}/x.pt", 1, "is a directory"),
    (
        P,
        "NaN temperature",
        "--checkpoint {d}/glow.pt --temperatures nan",
        2,
        "argument --temperatures",
    ),
    (P, "truncated checkpoint", "--checkpoint {d}/glow_cut.pt", 1, "empty, truncated or not"),
    (
        P,
        "config asks for 1e6 hidden channels",
        "--checkpoint {d}/glow_wide.pt",
        1,
        "more than the limit",
    ),
    (E, "truncated image checkpoint", "--checkpoint {d}/glow_cut.pt", 1, "truncated or not"),
    (
        E,
        "zero sample rate",
        "--ref {d}/wavs --gen {d}/wavs --sample-rate 0",
        2,
        "argument --sample-rate",
    ),
    (
        E,
        "negative NLL sigma",
        "--ref {d}/wavs --checkpoint {d}/native.pt --sigma -1",
        2,
        "argument --sigma",
    ),
    (
        T,
        "segment length not a multiple of n_group",
        "--config {d}/seg.yaml",
        1,
        "data.segment_length (16001) must be a positive multiple of model.n_group (8)",
    ),
    (T, "config file is a FIFO", "--config {d}/fifo.yaml", 1, "is a FIFO"),
]


@pytest.mark.parametrize(
    ("command", "argv", "code", "expected"),
    [(c, a, code, x) for c, _, a, code, x in CASES],
    ids=[f"{c}: {why}" for c, why, *_ in CASES],
)
def test_hostile_input_gives_one_clear_line(
    files: Path, tmp_path: Path, capsys, command, argv, code, expected
) -> None:
    args = argv.format(d=files, out=tmp_path).split()
    if command in (S, M, P):
        args += ["--out", str(tmp_path / "out")]
    prefix = ["--max-model-params", "100"] if "limit of 100 " in expected else []
    with _unblock_fifos(files):  # a reader that wrongly opened a FIFO would hang here
        try:
            result = main([*prefix, command, *args])
        except SystemExit as exit_info:  # argparse refuses the option
            result = exit_info.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert result == code
    assert any(expected in line and len(line) < 700 for line in lines), err


def _unblock_fifos(folder: Path):
    """While active, a thread opens the FIFOs' write ends so a reader that (wrongly) opened one
    gets end-of-file instead of blocking the test forever."""

    class Guard:
        def __enter__(self) -> Guard:
            self.opened = False  # whether a reader ever had a FIFO open
            self.done = threading.Event()
            self.thread = threading.Thread(target=self._poke, daemon=True)
            self.thread.start()
            return self

        def _poke(self) -> None:
            fifos = [p for p in folder.rglob("*fifo*") if p.is_fifo()]
            while not self.done.wait(0.2):
                for fifo in fifos:
                    try:
                        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                        self.opened = True
                    except OSError:  # ENXIO: no reader has it open
                        pass

        def __exit__(self, *exc: object) -> None:
            self.done.set()
            self.thread.join()

    return Guard()


def test_a_fifo_neither_blocks_nor_stops_the_other_files(files: Path, tmp_path: Path) -> None:
    argv = ["--checkpoint", str(files / "native.pt"), str(files / "mels")]
    with _unblock_fifos(files) as guard:
        assert main(["synthesize", *argv, "--out", str(tmp_path / "s")]) == 1
        assert main(["mel", str(files / "wavs"), "--out", str(tmp_path / "m")]) == 1
    assert not guard.opened  # without the guard, a reader that opened a FIFO blocks forever
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["a.wav", "b.wav"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["a.npy", "b.npy"]


# ------------------------------------------------------------------ the Python loaders


def test_a_checkpoint_asking_for_a_huge_model_is_refused_before_building(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from waveflow.audio.tasks.vocoder import WaveGlowTask

    def never(self, cfg):
        raise AssertionError("the model was built before its size was checked")

    monkeypatch.setattr(WaveGlowTask, "build_model", never)
    for name, message in [("wide.pt", "more than the limit"), ("deep.pt", "20,002 tensors")]:
        with pytest.raises(WaveflowError, match=message):
            load_model(files / name)


def test_the_model_size_limit_is_an_option(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "max_model_params", 100)
    with pytest.raises(WaveflowError, match="limit of 100 "):
        load_model(files / "native.pt")
    monkeypatch.setenv("WAVEFLOW_MAX_MODEL_PARAMS", "5e9")
    from waveflow.limits import load_environment

    load_environment()
    assert LIMITS.max_model_params == 5_000_000_000
    load_model(files / "native.pt")


def test_a_foreign_state_dict_gives_a_short_message(files: Path) -> None:
    ckpt = torch.load(files / "native.pt", weights_only=True)
    state = ckpt["model"]
    ckpt["model"] = {f"x.{k}": v for k, v in state.items()}
    torch.save(ckpt, files / "renamed.pt")
    with pytest.raises(WaveflowError) as info:
        load_model(files / "renamed.pt")
    text = str(info.value)
    assert "missing" in text and "unexpected" in text and len(text) < 600


def test_a_hostile_pt_mel_message_is_plain(files: Path, tmp_path: Path, capsys) -> None:
    argv = ["synthesize", "--checkpoint", str(files / "native.pt"), str(files / "evil.pt")]
    assert main([*argv, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "\x1b[" not in err and "weights_only=False" not in err and "os.system" in err


def test_a_gzip_bomb_is_never_decompressed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A header declaring 10 images of 28x28, then 64 MB of zeros (64 KB compressed).
    header = b"\0\0\x08\x03" + np.array([10, 28, 28], dtype=">u4").tobytes()
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(header + bytes(64 << 20), compresslevel=1))
    tracemalloc.start()
    try:
        with pytest.raises(WaveflowError, match="does not match shape"):
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    # A header declaring more than the limit is refused before decompressing the data.
    declared = b"\0\0\x08\x03" + np.array([60000, 28, 28], dtype=">u4").tobytes()
    big = tmp_path / "big.gz"
    big.write_bytes(gzip.compress(declared + bytes(1000)))
    monkeypatch.setattr(LIMITS, "max_decompressed_mb", 16)
    with pytest.raises(WaveflowError, match="more than the limit of 16 MB"):
        read_idx(big)


def test_a_mel_config_cannot_ask_for_a_huge_filter_bank() -> None:
    # A checkpoint's data.mel (used by copy-synthesis and evaluate) or --n-fft of `mel`.
    for values in ({"n_fft": 1 << 30, "win_length": 1024}, {"n_mels": 1 << 20}):
        with pytest.raises(WaveflowError, match="must be <= 65536"):
            MelConfig(**values)


def test_load_audio_refuses_fifos_warns_on_clipping_and_bounds_resampling(files: Path) -> None:
    with _unblock_fifos(files), pytest.raises(WaveflowError, match="is a FIFO"):
        load_audio(files / "wavs" / "a_fifo.wav", RATE)
    with pytest.warns(UserWarning, match=r"loud.wav: \d+ sample\(s\) outside \[-1, 1\]"):
        audio = load_audio(files / "loud.wav", RATE)
    assert float(audio.abs().max()) == 1.0
    with pytest.raises(WaveflowError, match="cannot resample"):
        load_audio(files / "giga.wav", RATE, resample=True)


def test_a_corpus_wav_with_nan_is_skipped_when_scanned(tiny_ljspeech: Path) -> None:
    wavs = sorted((tiny_ljspeech / "wavs").glob("*.wav"))
    audio, _ = soundfile.read(wavs[0], dtype="float32")
    audio[100] = np.nan
    soundfile.write(wavs[0], audio, RATE, subtype="FLOAT")
    with pytest.warns(UserWarning, match="contains NaN or infinite samples"):
        dataset = AudioSegmentDataset(wavs, MelConfig(), 8000)
    assert wavs[0] in dataset.skipped and len(dataset) == len(wavs) - 1


# ----------------------------------------------------------- outputs and overwriting


def test_mel_reports_an_output_taken_by_a_folder_and_goes_on(
    files: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    (out / "a.npy").mkdir(parents=True)
    inputs = [str(files / "wavs" / "a.wav"), str(files / "wavs" / "b.wav")]
    assert main(["mel", *inputs, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "taken by a folder" in err and "wrote 1 mel file(s)" in err
    assert (out / "b.npy").is_file()


@pytest.mark.parametrize("command", ["mel", "synthesize"])
def test_overwriting_is_counted_and_no_overwrite_refuses(
    files: Path, tmp_path: Path, capsys, command: str
) -> None:
    if command == "mel":
        argv, output = ["mel", str(files / "wavs" / "a.wav")], tmp_path / "a.npy"
    else:
        argv = ["synthesize", "--checkpoint", str(files / "native.pt"), str(files / "mel.npy")]
        output = tmp_path / "mel.wav"
    argv += ["--out", str(tmp_path)]
    assert main(argv) == 0
    first = output.read_bytes()
    capsys.readouterr()
    assert main(argv) == 0
    assert "replaced 1 existing file(s)" in capsys.readouterr().err
    output.write_bytes(b"mine")
    assert main([*argv, "--no-overwrite"]) == 1
    assert "exists (--no-overwrite)" in capsys.readouterr().err
    assert output.read_bytes() == b"mine" != first


def test_convert_and_sample_refuse_to_overwrite_with_no_overwrite(
    files: Path, tmp_path: Path, capsys
) -> None:
    (tmp_path / "x.pt").write_bytes(b"mine")
    convert = ["convert", str(files / "nvidia.pt"), str(tmp_path / "x.pt")]
    assert main([*convert, "--no-overwrite"]) == 1
    (tmp_path / "samples_T0.5.png").write_bytes(b"mine")
    argv = ["sample", "--checkpoint", str(files / "glow.pt"), "--out", str(tmp_path)]
    assert main([*argv, "--temperatures", "0.5", "--n", "4", "--no-overwrite"]) == 1
    assert capsys.readouterr().err.count("exists (--no-overwrite)") == 2
    assert (tmp_path / "x.pt").read_bytes() == (tmp_path / "samples_T0.5.png").read_bytes()
    assert main([*argv, "--temperatures", "0.5", "--n", "4"]) == 0
    assert "replaced 1 existing file(s)" in capsys.readouterr().err


# ------------------------------------------------- evaluate: metrics one by one, in blocks


def test_one_failing_metric_does_not_drop_the_pair(files: Path, tmp_path: Path, capsys) -> None:
    silent = tmp_path / "silent"
    silent.mkdir()
    soundfile.write(silent / "a.wav", np.zeros(RATE, dtype=np.int16), RATE, subtype="PCM_16")
    argv = ["evaluate", "--ref", str(files / "wavs"), "--gen", str(silent)]
    json_path = tmp_path / "m.json"
    assert main([*argv, "--metrics", "mel,pesq", "--json", str(json_path)]) == 0
    err = capsys.readouterr().err
    assert "a: PESQ skipped" in err
    import json

    record = json.loads(json_path.read_text())
    assert record["per_file"]["a"]["pesq_wb"] is None
    assert math.isfinite(record["per_file"]["a"]["mel_l1"])


def test_pesq_below_16_khz_is_skipped_and_the_rest_reported(tmp_path: Path, capsys) -> None:
    for name in ("ref", "gen"):
        (tmp_path / name).mkdir()
        tone = 0.3 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000)
        soundfile.write(tmp_path / name / "a.wav", tone, 8000, subtype="PCM_16")
    argv = ["evaluate", "--ref", str(tmp_path / "ref"), "--gen", str(tmp_path / "gen")]
    assert main([*argv, "--sample-rate", "8000", "--metrics", "mel,mrstft,pesq"]) == 0
    out, err = capsys.readouterr()
    assert "PESQ skipped" in err and "16000 Hz" in err
    mel_row = next(line for line in out.splitlines() if line.startswith("mel_l1"))
    assert mel_row.split()[3] == "1"  # n = 1: the pair is reported


def test_metrics_without_blocks_are_skipped_above_the_length_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from waveflow.audio.metrics import evaluate_pair

    monkeypatch.setattr(LIMITS, "max_metric_seconds", 1, raising=False)
    rng = np.random.default_rng(0)
    ref = 0.3 * rng.standard_normal(2 * RATE)
    skipped: dict[str, str] = {}
    scores = evaluate_pair(ref, ref + 0.01, RATE, ["mel", "stoi"], skipped=skipped)
    assert math.isnan(scores["stoi"]) and math.isfinite(scores["mel_l1"])
    assert "2 s long, more than --max-metric-seconds 1" in skipped["stoi"]


def test_spectral_metrics_run_in_bounded_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from waveflow.audio.metrics import spectral

    monkeypatch.setattr(spectral, "BLOCK_FRAMES", 256, raising=False)
    rng = np.random.default_rng(0)
    ref = 0.3 * rng.standard_normal(20 * RATE)
    gen = ref + 0.05 * rng.standard_normal(ref.size)
    expected = _whole_signal_mrstft(ref, gen)
    lengths: list[int] = []
    real_stft = torch.stft

    def recording_stft(audio, *args, **kwargs):
        lengths.append(audio.shape[-1])
        return real_stft(audio, *args, **kwargs)

    monkeypatch.setattr(torch, "stft", recording_stft)
    result = spectral.multi_resolution_stft_distance(ref, gen)
    spectral.log_mel_l1(ref, gen, RATE)
    assert max(lengths) < ref.size / 4
    assert result == pytest.approx(expected, rel=1e-9)


def _whole_signal_mrstft(ref: np.ndarray, gen: np.ndarray) -> tuple[float, float]:
    from waveflow.audio.metrics.spectral import MAGNITUDE_FLOOR, PARALLEL_WAVEGAN_RESOLUTIONS

    convergence, log_l1 = [], []
    for r in PARALLEL_WAVEGAN_RESOLUTIONS:
        window = torch.hann_window(r.win_length, dtype=torch.float64)
        mags = [
            torch.stft(
                torch.from_numpy(x), r.n_fft, r.hop_length, r.win_length, window,
                center=True, pad_mode="reflect", return_complex=True,
            ).abs().clamp(min=MAGNITUDE_FLOOR)
            for x in (ref, gen)
        ]  # fmt: skip
        convergence.append(float(torch.linalg.norm(mags[0] - mags[1]) / torch.linalg.norm(mags[0])))
        log_l1.append(float((mags[0].log() - mags[1].log()).abs().mean()))
    return float(np.mean(convergence)), float(np.mean(log_l1))


# ------------------------------------------ interrupts, full disks, memory: one line each


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 25.00 GiB"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 26843545600 bytes. Error code 12"
        ),
    ],
    ids=["MemoryError", "OutOfMemoryError", "DefaultCPUAllocator"],
)
def test_running_out_of_memory_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys, error: BaseException
) -> None:
    from waveflow.cli.commands import copy_synthesis

    def allocate(args):
        raise error

    monkeypatch.setattr(copy_synthesis, "run", allocate)
    assert main(["copy-synthesis", "x.wav", "--griffin-lim", "--out", "o"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("waveflow copy-synthesis: error: out of memory")


def test_ctrl_c_while_a_checkpoint_is_written_exits_130_and_leaves_nothing(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real_save = torch.save

    class InterruptedFile:
        def __init__(self, f) -> None:
            self.f, self.writes = f, 0

        def write(self, data) -> int:
            self.writes += 1
            if self.writes > 3:
                raise KeyboardInterrupt
            return self.f.write(data)

        def flush(self) -> None:
            self.f.flush()

    monkeypatch.setattr(torch, "save", lambda obj, f: real_save(obj, InterruptedFile(f)))
    assert main(["convert", str(files / "nvidia.pt"), str(tmp_path / "out.pt")]) == 130
    assert capsys.readouterr().err.strip() == "waveflow convert: interrupted"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_just_after_the_temp_file_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OsInterruptedOnClose:
        def __getattr__(self, name: str):
            return getattr(os, name)

        @staticmethod
        def close(fd: int) -> None:
            os.close(fd)
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "os", OsInterruptedOnClose())
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write_text(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


CHILD = """
import contextlib, io, json, os, resource, signal, sys, time, torch
from waveflow.cli import main
real_save, results = torch.save, []
for mode, argv in json.loads(sys.argv[1]):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if mode == "sigterm":  # SIGTERM arrives while the checkpoint is being written
        def save(obj, f):
            f.write(b"PK\\x03\\x04" + bytes(1 << 16))
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        torch.save = save
    else:  # a disk that is full after `mode` bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(mode), hard))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    torch.save = real_save
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    results.append((code, err.getvalue()))
print(json.dumps(results))
"""


def test_sigterm_and_a_full_disk_are_one_line_and_leave_nothing(
    files: Path, tmp_path: Path
) -> None:
    """In a child process: SIGTERM while a checkpoint is written; a disk full after 8000 bytes
    while a WAV (libsndfile) and a checkpoint (torch's zip writer) are written."""
    import json

    mel = tmp_path / "long.npy"
    np.save(mel, log_mel(80, 60, 0))  # 60 x 256 samples: a 30 KB WAV
    out = tmp_path / "o"
    synthesize = ["synthesize", "--checkpoint", str(files / "native.pt"), str(mel)]
    steps = [
        ("sigterm", ["convert", str(files / "nvidia.pt"), str(out / "t.pt")]),
        ("8000", [*synthesize, "--out", str(out)]),
        ("8000", ["convert", str(files / "nvidia.pt"), str(out / "c.pt")]),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(steps)],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    (term, term_err), (wav, wav_err), (ckpt, ckpt_err) = json.loads(child.stdout)
    assert term == 128 + signal.SIGTERM and term_err.strip() == "waveflow convert: terminated"
    assert wav == 1 and "Traceback" not in wav_err, wav_err
    assert f"cannot write {out / 'long.wav'}: File too large" in wav_err
    assert ckpt == 1 and ckpt_err.strip().splitlines() == [
        f"waveflow convert: error: cannot write {out / 'c.pt'}: File too large"
    ]
    assert list(out.iterdir()) == []


def test_disk_full_errno_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(state, f) -> None:
        f.write(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(WaveflowError, match=r"cannot write .*c\.pt: no space left on device"):
        save_checkpoint({}, tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []


def test_warnings_are_one_line_without_a_source_line(files: Path, tmp_path: Path, capsys) -> None:
    assert main(["mel", str(files / "loud.wav"), "--out", str(tmp_path)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line.lower()]
    err = [line for line in err if "wrote" not in line]
    assert len(err) == 1 and err[0].startswith("waveflow mel: warning: audio file "), err
    assert "clipped" in err[0] and "UserWarning" not in err[0]


# ----------------------------------------------------------------------- training runs


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch):
    from engine_stand_in import ToyTask, toy_config

    from waveflow import task as registry

    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)
    return toy_config


def test_stale_temp_files_of_checkpoint_writes_are_removed_at_start(
    toy, tmp_path: Path, capsys
) -> None:
    from waveflow.train.engine import train

    train(toy(tmp_path, steps=2, valid_every=0))
    stale = [".ckpt_00000004.k3j_x9az.tmp.pt", ".best.abcdefgh.tmp.pt"]
    others = [".notes.abcdefgh.tmp.txt", "ckpt_notes.tmp", ".ckpt_00000004.tmp.pt"]
    for name in stale + others:
        (tmp_path / name).write_bytes(b"")
    train(toy(tmp_path, steps=3, valid_every=0), resume="auto")
    assert "removed 2 temp file(s) of interrupted checkpoint writes" in capsys.readouterr().out
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & set(stale) and set(others) <= names


def test_the_nan_guard_names_only_a_checkpoint_saved_at_a_finite_loss(toy, tmp_path: Path) -> None:
    from waveflow.train.engine import TrainingDiverged, train

    train(toy(tmp_path, steps=5, valid_every=0))
    config = toy(tmp_path, steps=50, max_bad_steps=3, ckpt_every=1, valid_every=0, keep_last=1)
    config["data"] = {"all_nan": True}
    with pytest.raises(TrainingDiverged) as info:
        train(config, resume="auto")  # steps 6, 7 are saved while the loss is NaN
    text = str(info.value)
    assert "last checkpoint saved at a finite loss is" in text and "ckpt_00000005.pt" in text
    assert "ckpt_00000007" not in text
    assert (tmp_path / "ckpt_00000005.pt").is_file()  # kept despite keep_last=1
    fresh = tmp_path / "fresh"
    config = toy(fresh, steps=50, max_bad_steps=3, ckpt_every=1, valid_every=0)
    config["data"] = {"all_nan": True}
    with pytest.raises(TrainingDiverged, match="no checkpoint was saved at a finite loss"):
        train(config)
