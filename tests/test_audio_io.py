"""Audio I/O: loading with clear errors, resampling, downmix, atomic 16-bit WAV writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from waveflow.atomic import atomic_path
from waveflow.audio.data.io import load_audio, save_wav
from waveflow.errors import WaveflowError


def test_load_matches_int16_samples_scaled(speech_wav: Path) -> None:
    raw, rate = soundfile.read(speech_wav, dtype="int16")
    audio = load_audio(speech_wav, rate)
    assert audio.dtype == torch.float32 and audio.shape == (len(raw),)
    np.testing.assert_allclose(audio.numpy(), raw / 32768.0, atol=1e-7)


def test_load_flac(demo_corpus: Path) -> None:
    audio = load_audio(sorted((demo_corpus / "wavs").glob("*.flac"))[0], 22050)
    assert audio.ndim == 1 and len(audio) > 22050 and float(audio.abs().max()) <= 1.0


def test_wrong_rate_names_file_and_both_rates(tmp_path: Path) -> None:
    path = tmp_path / "low.wav"
    soundfile.write(path, np.zeros(1600, dtype=np.float32) + 0.1, 16000)
    with pytest.raises(WaveflowError, match=r"low\.wav.*16000.*22050"):
        load_audio(path, 22050)


def test_resample_keeps_duration_and_pitch(tmp_path: Path) -> None:
    source_rate, target_rate, freq = 16000, 22050, 440.0
    t = np.arange(source_rate) / source_rate
    path = tmp_path / "tone.wav"
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * freq * t), source_rate, subtype="FLOAT")
    audio = load_audio(path, target_rate, resample=True).numpy()
    assert abs(len(audio) - target_rate) <= 1
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    peak_hz = np.argmax(spectrum) * target_rate / len(audio)
    assert abs(peak_hz - freq) < 2.0


def test_stereo_is_an_error_unless_downmixed(tmp_path: Path) -> None:
    left = np.linspace(-0.5, 0.5, 1000)
    right = np.full(1000, 0.25)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 22050, subtype="FLOAT")
    with pytest.raises(WaveflowError, match=r"stereo\.wav.*2 channels"):
        load_audio(path, 22050)
    mono = load_audio(path, 22050, downmix=True).numpy()
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.wav", None, "empty"),
        ("corrupt.wav", b"RIFF\x00\x01garbage that is not a wave file" * 3, "cannot read"),
        ("missing.wav", "absent", "cannot read"),
    ],
)
def test_bad_files_raise_naming_file(
    tmp_path: Path, name: str, content: bytes | str | None, problem: str
) -> None:
    path = tmp_path / name
    if content is None:
        soundfile.write(path, np.zeros(0, dtype=np.float32), 22050)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(WaveflowError, match=problem) as info:
        load_audio(path, 22050)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_nan_samples_raise(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    soundfile.write(path, np.array([0.1, np.nan, 0.2] * 100), 22050, subtype="FLOAT")
    with pytest.raises(WaveflowError, match=r"nan\.wav.*NaN"):
        load_audio(path, 22050)


def test_save_wav_round_trip_is_16_bit_and_clipped(tmp_path: Path) -> None:
    audio = torch.tensor([0.0, 0.5, -0.25, 1.7, -3.0, 0.999])
    path = tmp_path / "new" / "dir" / "out.wav"
    save_wav(path, audio, 22050)
    info = soundfile.info(path)
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 22050, 1)
    back, _ = soundfile.read(path, dtype="float32")
    np.testing.assert_allclose(back, np.clip(audio.numpy(), -1, 1), atol=1.5 / 32768)
    assert list(path.parent.iterdir()) == [path]


def test_save_wav_accepts_numpy_and_rejects_bad_audio(tmp_path: Path) -> None:
    save_wav(tmp_path / "np.wav", np.zeros(10), 16000)
    assert soundfile.info(tmp_path / "np.wav").frames == 10
    for bad in (np.zeros((2, 10)), np.zeros(0), np.array([0.0, np.inf])):
        with pytest.raises(WaveflowError, match="bad.wav"):
            save_wav(tmp_path / "bad.wav", bad, 16000)
    assert not (tmp_path / "bad.wav").exists()


def test_atomic_path_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "result.wav"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half-writ")
        raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
    assert target.read_bytes() == b"complete"
    assert list(tmp_path.iterdir()) == [target]
