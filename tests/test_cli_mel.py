"""`waveflow mel` end to end through `waveflow.cli.main`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.audio.data.io import load_audio
from waveflow.cli import main


@pytest.fixture
def speech_folder(tiny_ljspeech: Path, tmp_path: Path) -> Path:
    """Three real-speech WAVs, one FLAC and one corrupt WAV."""
    folder = tmp_path / "in"
    folder.mkdir()
    for source in sorted((tiny_ljspeech / "wavs").glob("*.wav"))[:3]:
        shutil.copy(source, folder / source.name)
    audio, rate = soundfile.read(tiny_ljspeech / "wavs" / "LJ900-0004.wav")
    soundfile.write(folder / "LJ900-0004.flac", audio, rate, subtype="PCM_16")
    (folder / "zz-corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk")
    return folder


def test_folder_with_corrupt_file(
    speech_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mels"
    assert main(["mel", str(speech_folder), "--out", str(out)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "zz-corrupt.wav" in errors[0]
    assert errors[0].startswith("waveflow mel: error:")
    stems = ["LJ900-0001", "LJ900-0002", "LJ900-0003", "LJ900-0004"]
    assert sorted(p.name for p in out.iterdir()) == [f"{s}.npy" for s in stems]
    mel = MelSpectrogram()
    for stem in stems:
        source = next(speech_folder.glob(f"{stem}.*"))
        audio = load_audio(source, 22050)
        expected = mel(audio).numpy()
        written = np.load(out / f"{stem}.npy")
        assert written.dtype == np.float32 and written.shape == (80, 1 + len(audio) // 256)
        np.testing.assert_allclose(written, expected, atol=1e-5)


def test_both_formats_and_custom_options(speech_folder: Path, tmp_path: Path) -> None:
    good = speech_folder / "LJ900-0001.wav"
    out = tmp_path / "mels"
    argv = ["mel", str(good), "--out", str(out), "--format", "both"]
    argv += ["--n-mels", "40", "--hop-length", "128", "--win-length", "512", "--fmax", "none"]
    assert main(argv) == 0
    from_npy = np.load(out / "LJ900-0001.npy")
    from_pt = torch.load(out / "LJ900-0001.pt", weights_only=True)
    config = MelConfig(n_mels=40, hop_length=128, win_length=512, fmax=None)
    expected = MelSpectrogram(config)(load_audio(good, 22050)).numpy()
    np.testing.assert_allclose(from_npy, expected, atol=1e-5)
    np.testing.assert_array_equal(from_pt.numpy(), from_npy)


def test_sample_rate_mismatch_and_resample(speech_wav: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mels"
    assert main(["mel", str(speech_wav), "--out", str(out), "--sample-rate", "16000"]) == 1
    assert "22050 Hz, expected 16000 Hz" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
    argv = ["mel", str(speech_wav), "--out", str(out), "--sample-rate", "16000", "--resample"]
    assert main(argv) == 0
    frames = np.load(out / f"{speech_wav.stem}.npy").shape[1]
    expected_samples = round(soundfile.info(speech_wav).frames * 16000 / 22050)
    assert frames == 1 + expected_samples // 256


def test_missing_input_and_bad_option(tmp_path: Path, capsys) -> None:
    assert main(["mel", str(tmp_path / "nothing.wav"), "--out", str(tmp_path / "o")]) == 1
    assert "nothing.wav: no such file or folder" in capsys.readouterr().err
    (tmp_path / "a.wav").write_bytes(b"x")
    with pytest.raises(SystemExit) as exit_info:
        main(["mel", str(tmp_path / "a.wav"), "--out", str(tmp_path), "--n-mels", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "waveflow mel: error: argument --n-mels: must be a positive integer, got '0'"


def test_command_module_does_not_import_torch() -> None:
    code = "import sys, waveflow.cli.commands.mel; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "False"


def test_preset_16k_with_an_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "tone16k.wav"
    t = np.arange(8000) / 16000
    soundfile.write(clip, 0.3 * np.sin(2 * np.pi * 440 * t), 16000, subtype="PCM_16")
    out = tmp_path / "mels"
    assert main(["mel", str(clip), "--out", str(out), "--preset", "16k", "--n-mels", "64"]) == 0
    expected = MelSpectrogram(MelConfig.from_dict({"preset": "16k", "n_mels": 64}))(
        load_audio(clip, 16000)
    )
    written = np.load(out / "tone16k.npy")
    assert written.shape == (64, 1 + 8000 // 256)
    np.testing.assert_allclose(written, expected.numpy(), atol=1e-5)
    # the 22050 Hz default refuses the 16 kHz file, naming both rates
    assert main(["mel", str(clip), "--out", str(tmp_path / "other")]) == 1
    err = capsys.readouterr().err
    assert "sample rate 16000 Hz, expected 22050 Hz" in err


def test_unknown_preset_lists_the_available_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["mel", str(tmp_path), "--out", str(tmp_path / "m"), "--preset", "8k"])
    assert "choose from '22k', '16k', '24k'" in capsys.readouterr().err
