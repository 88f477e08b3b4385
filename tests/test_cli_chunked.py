"""`--chunk-samples` of synthesize / copy-synthesis / evaluate: same results as whole
utterances, one-line errors for bad chunk sizes and for running out of memory."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch
from vocoder_files import log_mel, native_checkpoint

from waveflow.audio.data.features import MelConfig
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.tasks.likelihood import held_out_nll
from waveflow.cli import main


def synthesize(tmp_path, out: str, *extra: str) -> np.ndarray:
    argv = ["synthesize", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.npy")]
    assert main([*argv, "--out", str(tmp_path / out), "--sigma", "0.7", *extra]) == 0
    return soundfile.read(tmp_path / out / "a.wav", dtype="int16")[0]


def test_synthesize_in_chunks_writes_the_whole_utterance_result(tmp_path):
    model = native_checkpoint(tmp_path / "model.pt")
    assert model.receptive_field() == (4, 1)  # 4 flows x 3 columns x 8 < 1 frame; 3 + 1 left
    np.save(tmp_path / "a.npy", log_mel(80, 40, 0))
    whole = synthesize(tmp_path, "whole")
    chunked = synthesize(tmp_path, "chunked", "--chunk-samples", str(4 * 256))
    assert whole.shape == (40 * 256,)
    assert np.abs(whole.astype(int) - chunked.astype(int)).max() <= 1  # 16-bit rounding


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [("1000", "not a multiple of hop_length 256; the minimum is 1024 samples"),
     ("768", "below the model's receptive field: the minimum is 1024 samples")],
)  # fmt: skip
def test_bad_chunk_size_is_one_line_naming_the_minimum(tmp_path, capsys, chunk, expected):
    native_checkpoint(tmp_path / "model.pt")
    np.save(tmp_path / "a.npy", log_mel(80, 4, 0))
    for command in ("synthesize", "copy-synthesis", "evaluate"):
        inputs = {"synthesize": [str(tmp_path / "a.npy")], "copy-synthesis": [str(tmp_path)]}
        argv = [command, *inputs.get(command, ["--ref", str(tmp_path)])]
        argv += ["--checkpoint", str(tmp_path / "model.pt"), "--chunk-samples", chunk]
        if command != "evaluate":
            argv += ["--out", str(tmp_path / "out")]
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"waveflow {command}: error:") and "\n" not in err
        assert expected in err
    assert not (tmp_path / "out").exists()


def test_running_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    native_checkpoint(tmp_path / "model.pt")
    np.save(tmp_path / "a.npy", log_mel(80, 4, 0))

    def fail(*args, **kwargs):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
            "you tried to allocate 25000000000 bytes."
        )

    monkeypatch.setattr(WaveGlow, "infer", fail)
    argv = ["synthesize", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.npy")]
    assert main([*argv, "--out", str(tmp_path / "out"), "--batch-size", "3"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.replace("\r", "\n").splitlines() if "error:" in line]
    assert line.endswith("lower --batch-size or --chunk-samples")
    assert "waveflow synthesize: error: out of memory synthesising a batch of 1 mel(s)" in line


def test_held_out_nll_in_chunks_equals_whole_files(tiny_ljspeech):
    torch.manual_seed(0)
    model = WaveGlow(n_flows=2, n_early_every=4, n_layers=2, n_channels=8).eval()
    for name, param in model.named_parameters():
        if ".end." in name:
            param.data.normal_(0.0, 0.5)
    files = sorted((tiny_ljspeech / "wavs").glob("*.wav"))[:2]
    whole = held_out_nll(model, files, MelConfig(), chunk_samples=10**6 * 256)
    chunked = held_out_nll(model, files, MelConfig(), chunk_samples=4 * 256)
    assert chunked["samples"] == whole["samples"] > 2 * 4 * 256
    assert chunked["nats_per_sample"] == pytest.approx(whole["nats_per_sample"], abs=1e-5)
