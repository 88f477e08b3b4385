"""`waveflow synthesize`, `copy-synthesis` end to end on tiny native and NVIDIA checkpoints."""

from __future__ import annotations

import numpy as np
import soundfile
import torch
from reference import nvidia_maths as nl
from vocoder_files import log_mel, native_checkpoint

from waveflow.cli import main


def write_mels(folder, n_mel: int) -> None:
    folder.mkdir()
    np.save(folder / "a.npy", log_mel(n_mel, 9, 0))
    torch.save(torch.from_numpy(log_mel(n_mel, 5, 1))[None], folder / "b.pt")  # [1, M, F]
    np.save(folder / "power.npy", np.exp(log_mel(n_mel, 4, 2)) ** 2)  # warned, synthesised
    np.save(folder / "wrong.npy", log_mel(n_mel + 1, 6, 3))  # bad channel count
    nan = log_mel(n_mel, 6, 4)
    nan[0, 0] = np.nan
    np.save(folder / "nan.npy", nan)
    (folder / "broken.npy").write_bytes(b"garbage")


def check_outputs(out, hop: int, rate: int) -> None:
    expected = {"a.wav": 9 * hop, "b.wav": 5 * hop, "power.wav": 4 * hop}
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)  # no temp files either
    for name, length in expected.items():
        info = soundfile.info(out / name)
        assert (info.frames, info.samplerate, info.subtype) == (length, rate, "PCM_16")


def test_synthesize_native_checkpoint_with_bad_files(tmp_path, capsys):
    native_checkpoint(tmp_path / "model.pt")
    write_mels(tmp_path / "mels", 80)
    argv = ["synthesize", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "mels")]
    code = main([*argv, "--out", str(tmp_path / "out"), "--batch-size", "2", "--denoise", "0.05"])
    assert code == 1
    err = capsys.readouterr().err
    for name, problem in [
        ("wrong.npy", "81 channels"),
        ("nan.npy", "NaN"),
        ("broken.npy", "cannot read"),
    ]:
        assert any(
            name in line and problem in line and "error" in line for line in err.splitlines()
        )
    assert any("warning" in line and "power.npy" in line for line in err.splitlines())
    assert "x real time" in err
    check_outputs(tmp_path / "out", 256, 16000)


def test_synthesize_nvidia_checkpoint_and_bf16(tmp_path):
    nl.save_nvidia_checkpoint(nl.make_reference(), tmp_path / "nvidia.pt")
    write_mels(tmp_path / "mels", 6)
    argv = ["synthesize", "--checkpoint", str(tmp_path / "nvidia.pt"), str(tmp_path / "mels")]
    assert main([*argv, "--out", str(tmp_path / "out"), "--dtype", "bf16"]) == 1
    check_outputs(tmp_path / "out", 8, 22050)


def test_synthesize_truncated_checkpoint_is_one_error_line(tmp_path, capsys):
    native_checkpoint(tmp_path / "model.pt")
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 3])
    write_mels(tmp_path / "mels", 80)
    argv = ["synthesize", "--checkpoint", str(tmp_path / "cut.pt"), str(tmp_path / "mels")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("waveflow synthesize: error:") and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_copy_synthesis_keeps_the_input_length(tmp_path, speech_wav):
    native_checkpoint(tmp_path / "model.pt")  # trained at 16 kHz
    clip = tmp_path / "clip16k.wav"
    soundfile.write(clip, soundfile.read(speech_wav)[0], 16000, subtype="PCM_16")
    argv = ["copy-synthesis", str(clip), "--checkpoint", str(tmp_path / "model.pt")]
    assert main([*argv, "--out", str(tmp_path / "out"), "--sample-rate", "16000"]) == 0
    out = soundfile.info(tmp_path / "out" / "clip16k.wav")
    assert out.frames == soundfile.info(clip).frames and out.samplerate == 16000


def test_a_rate_other_than_the_checkpoints_is_refused_in_one_line(tmp_path, speech_wav, capsys):
    native_checkpoint(tmp_path / "model.pt")  # trained at 16 kHz; speech_wav is 22050 Hz
    argv = ["copy-synthesis", str(speech_wav), "--checkpoint", str(tmp_path / "model.pt")]
    assert main([*argv, "--out", str(tmp_path / "a"), "--sample-rate", "22050"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("waveflow copy-synthesis: error: --sample-rate 22050")
    assert "expects 16000 Hz, received 22050 Hz" in err
    assert main([*argv, "--out", str(tmp_path / "b")]) == 1  # the file itself is at 22050 Hz
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "sample rate 22050 Hz, expected 16000 Hz" in lines[0]
    assert not list((tmp_path / "b").glob("*.wav"))


def test_copy_synthesis_griffin_lim_needs_no_checkpoint(tmp_path, speech_wav):
    short = tmp_path / "short.wav"
    audio, rate = soundfile.read(speech_wav)
    soundfile.write(short, audio[:8000], rate)
    assert main(["copy-synthesis", str(short), "--griffin-lim", "--out", str(tmp_path / "gl")]) == 0
    assert soundfile.info(tmp_path / "gl" / "short.wav").frames == 8000
