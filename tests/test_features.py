"""Log-mel front end against an independent librosa/numpy reference (Tacotron2 recipe)."""

from __future__ import annotations

import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile
import torch

from waveflow.audio.data.features import (
    MelConfig,
    MelSpectrogram,
    check_log_mel,
    looks_like_log_mel,
)
from waveflow.errors import WaveflowError


def reference_log_mel(audio: np.ndarray, config: MelConfig) -> np.ndarray:
    """Tacotron2's recipe written with librosa/numpy in float64: centred reflect-padded STFT
    with a periodic Hann window, magnitude, Slaney mel filters, natural log of max(x, floor)."""
    spectrum = librosa.stft(
        audio.astype(np.float64),
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window="hann",
        center=True,
        pad_mode="reflect",
    )
    filters = librosa.filters.mel(
        sr=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
        dtype=np.float64,
    )
    return np.log(np.maximum(filters @ np.abs(spectrum), config.log_floor))


@pytest.fixture(scope="module")
def speech(speech_wav: Path) -> np.ndarray:
    audio, rate = soundfile.read(speech_wav, dtype="float32")
    assert rate == 22050
    return audio


def test_defaults_are_tacotron2_front_end() -> None:
    c = MelConfig()
    assert (c.sample_rate, c.n_fft, c.hop_length, c.win_length, c.n_mels) == (
        22050,
        1024,
        256,
        1024,
        80,
    )
    assert (c.fmin, c.fmax, c.log_floor) == (0.0, 8000.0, 1e-5)


def test_default_features_match_reference_on_speech(speech: np.ndarray) -> None:
    mel = MelSpectrogram()(torch.from_numpy(speech))
    expected = reference_log_mel(speech, MelConfig())
    assert mel.dtype == torch.float32
    assert mel.shape == expected.shape == (80, 1 + len(speech) // 256)
    assert np.abs(mel.numpy() - expected).max() < 1e-3
    assert mel.min() < -5 and mel.max() > -2  # speech spans quiet and loud frames


@pytest.mark.parametrize(
    "config",
    [
        MelConfig(
            sample_rate=16000,
            n_fft=512,
            hop_length=128,
            win_length=512,
            n_mels=40,
            fmin=50.0,
            fmax=None,
        ),
        MelConfig(
            sample_rate=22050,
            n_fft=2048,
            hop_length=300,
            win_length=1200,
            n_mels=100,
            fmin=0.0,
            fmax=11025.0,
        ),
        MelConfig(
            sample_rate=24000,
            n_fft=1024,
            hop_length=200,
            win_length=800,
            n_mels=64,
            fmin=80.0,
            fmax=7600.0,
            log_floor=1e-4,
        ),
    ],
    ids=["16k-40bands", "hop300-win1200", "24k-floor1e-4"],
)
def test_other_configs_match_reference(speech: np.ndarray, config: MelConfig) -> None:
    mel = MelSpectrogram(config)(torch.from_numpy(speech)).numpy()
    expected = reference_log_mel(speech, config)
    assert mel.shape == (config.n_mels, 1 + len(speech) // config.hop_length)
    # float32 STFT rounding is relatively large only for bands within e^2 of the floor
    # (empty bands above the 8 kHz content of the corpus); elsewhere the match is tight.
    error = np.abs(mel - expected)
    assert error[expected > np.log(config.log_floor) + 2].max() < 1e-3
    assert error.max() < 1e-2


@pytest.mark.parametrize("num_samples", [513, 1000, 1024, 1025, 25600, 25855])
def test_frame_count(num_samples: int) -> None:
    audio = torch.randn(num_samples, generator=torch.Generator().manual_seed(0)) * 0.1
    assert MelSpectrogram()(audio).shape == (80, 1 + num_samples // 256)


def test_batched_equals_per_item(speech: np.ndarray) -> None:
    items = [torch.from_numpy(speech[i * 3000 : i * 3000 + 20000]) for i in range(3)]
    mel = MelSpectrogram()
    batched = mel(torch.stack(items))
    assert batched.shape == (3, 80, 1 + 20000 // 256)
    for row, item in zip(batched, items, strict=True):
        torch.testing.assert_close(row, mel(item), atol=1e-4, rtol=0)


def test_float64_input_gives_float32(speech: np.ndarray) -> None:
    mel = MelSpectrogram()(torch.from_numpy(speech.astype(np.float64)))
    assert mel.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(speech: np.ndarray) -> None:
    audio = torch.from_numpy(speech)
    cpu = MelSpectrogram()(audio)
    gpu = MelSpectrogram().cuda()(audio.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    ("audio", "problem"),
    [
        (torch.zeros(0), "samples"),
        (torch.zeros(300), "n_fft"),
        (torch.zeros(2, 3, 4000), "shape"),
        (torch.zeros(4000, dtype=torch.int16), "floating-point"),
        (torch.tensor([0.0, float("nan")] * 2000), "NaN"),
        (torch.tensor([0.0, float("inf")] * 2000), "infinite"),
    ],
    ids=["empty", "too-short", "rank3", "int", "nan", "inf"],
)
def test_bad_audio_raises(audio: torch.Tensor, problem: str) -> None:
    with pytest.raises(WaveflowError, match=problem):
        MelSpectrogram()(audio)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"n_mels": 0}, "n_mels must be a positive integer"),
        ({"hop_length": -256}, "hop_length must be a positive integer"),
        ({"n_fft": 512.0}, "n_fft must be a positive integer"),
        ({"win_length": 2048}, "win_length .2048. must not exceed n_fft"),
        ({"fmax": 12000.0}, "fmax=12000.0"),
        ({"fmin": 9000.0}, "fmin=9000.0"),
        ({"log_floor": 0.0}, "log_floor must be positive"),
    ],
)
def test_bad_config_raises(values: dict, problem: str) -> None:
    with pytest.raises(WaveflowError, match=problem):
        MelConfig(**values)


def test_config_from_dict_rejects_unknown_keys() -> None:
    assert MelConfig.from_dict({"n_mels": 64}).n_mels == 64
    assert MelConfig.from_dict(MelConfig(hop_length=200).to_dict()) == MelConfig(hop_length=200)
    with pytest.raises(WaveflowError, match="n_mel_channels"):
        MelConfig.from_dict({"n_mel_channels": 80})


def test_log_mel_detection(speech: np.ndarray) -> None:
    log_mel = MelSpectrogram()(torch.from_numpy(speech))
    assert looks_like_log_mel(log_mel)
    magnitude = log_mel.exp()
    assert not looks_like_log_mel(magnitude)
    assert not looks_like_log_mel(magnitude**2)
    assert not looks_like_log_mel(20 * torch.log10(magnitude))
    assert not looks_like_log_mel(torch.full((80, 10), float("nan")))
    with pytest.warns(UserWarning, match="mel.*linear magnitude or power"):
        check_log_mel(magnitude, "mel")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_log_mel(log_mel, "mel")


def test_named_presets_and_overrides() -> None:
    from waveflow.audio.data.mel_presets import MEL_PRESETS

    assert MelConfig.from_dict({"preset": "22k"}) == MelConfig()  # Tacotron2: the default
    sixteen = MelConfig.from_dict({"preset": "16k"})
    assert (sixteen.sample_rate, sixteen.n_fft, sixteen.hop_length, sixteen.win_length) == (
        16000, 1024, 256, 1024
    )  # fmt: skip
    assert (sixteen.fmin, sixteen.fmax) == (80.0, 7600.0)
    libritts = MelConfig.from_dict({"preset": "24k", "fmax": None})
    assert (libritts.sample_rate, libritts.hop_length, libritts.win_length) == (24000, 300, 1200)
    assert libritts.fmax is None  # an explicit key overrides the preset's
    assert set(MEL_PRESETS) == {"22k", "16k", "24k"}
    for name in MEL_PRESETS:  # every preset builds a working front end
        config = MelConfig.from_dict({"preset": name})
        mel = MelSpectrogram(config)(torch.randn(config.sample_rate // 4) * 0.1)
        assert mel.shape == (80, 1 + (config.sample_rate // 4) // config.hop_length)


def test_unknown_preset_lists_the_available_ones() -> None:
    from waveflow.dataclass_dict import from_dict

    with pytest.raises(WaveflowError, match=r"data\.mel\.preset: unknown mel preset '8k'; "
                       r"available: 22k, 16k, 24k$"):  # fmt: skip
        from_dict(MelConfig, {"preset": "8k"}, "data.mel")
