"""hubconf.py through `torch.hub.load(repo, name, source="local")`: offline, every entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference import nvidia_maths as nl
from vocoder_files import native_checkpoint

from waveflow.audio.data.io import load_audio
from waveflow.audio.formats.pretrained import load_default
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.errors import WaveflowError

ROOT = Path(__file__).resolve().parents[1]


def hub(name: str, **kwargs):
    return torch.hub.load(str(ROOT), name, source="local", **kwargs)


def test_default_vocoder_and_its_front_end(speech_wav: Path) -> None:
    vocoder = hub("waveflow_default")
    shipped, mel_config = load_default()
    assert isinstance(vocoder, WaveGlow) and not vocoder.training
    state = vocoder.state_dict()
    assert all(torch.equal(value, state[key]) for key, value in shipped.state_dict().items())
    front_end = hub("mel_spectrogram")
    assert front_end.config == mel_config  # 22050 Hz Tacotron2
    mel = front_end(load_audio(speech_wav, front_end.config.sample_rate)[:22050])
    with torch.no_grad():
        audio = vocoder.infer(mel[None], sigma=0.6)[0]
    assert audio.shape == (mel.shape[1] * 256,) and torch.isfinite(audio).all()


def test_waveglow_from_a_native_or_an_nvidia_checkpoint(tmp_path: Path) -> None:
    trained = native_checkpoint(tmp_path / "native.pt")  # stores a 16 kHz front end
    model = hub("waveglow", checkpoint=str(tmp_path / "native.pt"))
    assert model.config == trained.config and not model.training
    front_end = hub("mel_spectrogram", checkpoint=str(tmp_path / "native.pt"))
    assert front_end.config.sample_rate == 16000
    with pytest.raises(WaveflowError, match="expects 16000 Hz, received 22050 Hz"):
        hub("waveglow", checkpoint=str(tmp_path / "native.pt"), sample_rate=22050)
    reference = nl.make_reference()  # NVIDIA's layout: 6 mels, 4 flows
    nl.save_nvidia_checkpoint(reference, tmp_path / "nvidia.pt")
    nvidia = hub("waveglow", checkpoint=str(tmp_path / "nvidia.pt"))
    assert isinstance(nvidia, WaveGlow) and not nvidia.training
    assert (nvidia.config.n_mel_channels, nvidia.config.n_flows) == (6, 4)
    with pytest.raises(WaveflowError, match="checkpoint"):
        hub("waveglow", checkpoint=str(tmp_path / "missing.pt"))


def test_presets_and_unknown_names_list_what_there_is() -> None:
    assert hub("mel_spectrogram", preset="16k").config.sample_rate == 16000
    with pytest.raises(WaveflowError, match="available: 22k, 16k, 24k"):
        hub("mel_spectrogram", preset="8k")
    with pytest.raises(AttributeError) as caught:
        hub("nvidia_waveglow")
    assert str(caught.value) == (
        "waveflow's hubconf has no entry point 'nvidia_waveglow'; available: "
        "waveflow_default, waveglow, mel_spectrogram"
    )
