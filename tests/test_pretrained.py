"""The default vocoder shipped in the package (waveflow.audio.formats.pretrained) and the commands'
default path, with a tiny checkpoint packaged into a temporary weights folder."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile
import torch
from vocoder_files import native_checkpoint

from waveflow.audio.formats import pretrained
from waveflow.audio.formats.pretrained import load_default, package_vocoder
from waveflow.checkpoint import load_checkpoint
from waveflow.cli import main
from waveflow.errors import WaveflowError

TACOTRON2_MEL = {"sample_rate": 22050, "hop_length": 256, "n_mels": 80, "fmax": 8000.0}


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """A temporary package weights folder holding a tiny packaged WaveGlow (fp16 weights)."""
    folder = tmp_path / "weights"
    source = tmp_path / "trained.pt"
    model = native_checkpoint(source)  # saved with data.mel.sample_rate 16000
    ckpt = torch.load(source, weights_only=True)
    ckpt["config"]["data"] = {"root": "/somewhere/local", "mel": TACOTRON2_MEL}
    ckpt["optimizer"] = {"state": {}}
    torch.save(ckpt, source)
    package_vocoder(source, folder, half=True)
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", folder)
    return folder, model


def test_packaged_file_is_stripped_fp16_and_its_checksum_recorded(weights):
    folder, _ = weights
    packed = load_checkpoint(folder / "universal.pt")
    assert sorted(packed) == ["config", "model", "task"]
    assert packed["config"]["data"] == {"mel": TACOTRON2_MEL}  # no local paths, no train:
    assert {v.dtype for v in packed["model"].values() if v.is_floating_point()} == {torch.float16}
    digest = hashlib.sha256((folder / "universal.pt").read_bytes()).hexdigest()
    assert (folder / "universal.sha256").read_text() == f"{digest}  universal.pt\n"


def test_load_default_returns_the_model_and_tacotron2_front_end(weights):
    _, trained = weights
    model, mel_config = load_default("cpu")
    assert (mel_config.sample_rate, mel_config.hop_length, mel_config.n_mels) == (22050, 256, 80)
    assert mel_config.fmax == 8000.0
    assert next(model.parameters()).dtype == torch.float32 and not model.training
    for name, value in trained.state_dict().items():  # fp16-rounded copies of the weights
        torch.testing.assert_close(model.state_dict()[name], value.half().float())


def test_synthesize_without_checkpoint_uses_the_default(weights, tmp_path, capsys):
    mel = np.random.default_rng(0).uniform(-11.5, 1.0, size=(80, 7)).astype(np.float32)
    np.save(tmp_path / "tacotron2.npy", mel)  # Tacotron2 layout [n_mels, frames]
    assert main(["synthesize", str(tmp_path / "tacotron2.npy"), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "default vocoder" in line]
    assert len(lines) == 1 and "no --checkpoint" in lines[0] and "22050 Hz" in lines[0]
    info = soundfile.info(tmp_path / "o" / "tacotron2.wav")
    assert (info.frames, info.samplerate) == (7 * 256, 22050)


def test_copy_synthesis_without_checkpoint_uses_the_default(weights, tmp_path, speech_wav, capsys):
    assert main(["copy-synthesis", str(speech_wav), "--out", str(tmp_path / "o")]) == 0
    assert "using the default vocoder" in capsys.readouterr().err
    out = soundfile.info(tmp_path / "o" / f"{speech_wav.stem}.wav")
    assert (out.frames, out.samplerate) == (soundfile.info(speech_wav).frames, 22050)


def test_griffin_lim_and_checkpoint_together_are_refused(tmp_path, speech_wav, capsys):
    argv = ["copy-synthesis", str(speech_wav), "--griffin-lim", "--checkpoint", "x.pt"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "waveflow copy-synthesis: error: give at most one of --checkpoint CKPT and --griffin-lim"
    )


def test_wrong_channel_count_is_refused_with_both_values(weights, tmp_path, capsys):
    np.save(tmp_path / "m.npy", np.zeros((81, 5), np.float32) - 5)
    assert main(["synthesize", str(tmp_path / "m.npy"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "m.npy: mel has 81 channels, the model expects 80" in err


@pytest.mark.parametrize("command", ["synthesize", "copy-synthesis"])
def test_other_sample_rate_is_refused_with_both_values(
    weights, tmp_path, speech_wav, command, capsys
):
    argv = [command, str(speech_wav), "--out", str(tmp_path / "o"), "--sample-rate", "16000"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"waveflow {command}: error: --sample-rate 16000: the default vocoder expects 22050 Hz, "
        "received 16000 Hz (the rate it was trained at: resample, or use a model trained at "
        "16000 Hz)"
    )
    assert not (tmp_path / "o").exists()


def test_corrupted_default_is_a_one_line_error_saying_how_to_reinstall(weights, tmp_path, capsys):
    folder, _ = weights
    data = bytearray((folder / "universal.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "universal.pt").write_bytes(bytes(data))
    with pytest.raises(WaveflowError, match="corrupted") as caught:
        load_default()
    assert "reinstall waveflow" in str(caught.value) and "\n" not in str(caught.value)
    np.save(tmp_path / "m.npy", np.zeros((80, 5), np.float32) - 5)
    assert main(["synthesize", str(tmp_path / "m.npy"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("waveflow synthesize: error: the default vocoder") and "\n" not in err


def test_missing_checkpoint_or_checksum_is_an_error(weights):
    folder, _ = weights
    (folder / "universal.sha256").unlink()
    with pytest.raises(WaveflowError, match=r"incomplete .*universal.sha256 is missing.*reinstall"):
        load_default()
    (folder / "universal.sha256").write_text("0" * 64 + "  universal.pt\n")
    (folder / "universal.pt").unlink()
    with pytest.raises(WaveflowError, match=r"incomplete .*universal.pt is missing.*reinstall"):
        load_default()


def test_not_installed_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path / "empty")
    with pytest.raises(WaveflowError, match="no default vocoder is installed.*--checkpoint"):
        load_default()


def test_a_foreign_pickle_in_place_of_the_default_is_refused(weights, tmp_path):
    """The packaged file goes through the safe loader even when its checksum matches."""
    folder, _ = weights
    torch.save({"task": "waveglow", "config": {"model": {}}, "model": {}, "x": np.float64},
               folder / "universal.pt")  # fmt: skip
    digest = hashlib.sha256((folder / "universal.pt").read_bytes()).hexdigest()
    (folder / "universal.sha256").write_text(f"{digest}  universal.pt\n")
    with pytest.raises(WaveflowError, match="would import"):
        load_default()


def test_shipped_default_vocoder_matches_its_checksum():
    checkpoint = pretrained.WEIGHTS_DIR / pretrained.CHECKPOINT_NAME
    if not checkpoint.exists():
        pytest.skip(f"no default vocoder shipped in this checkout ({checkpoint} absent)")
    assert checkpoint.stat().st_size <= pretrained.MAX_BYTES
    assert pretrained.default_checkpoint() == checkpoint  # checks the sha256
    model, mel_config = load_default()
    assert (mel_config.sample_rate, mel_config.hop_length, mel_config.n_mels) == (22050, 256, 80)
    assert mel_config.fmax == 8000.0
    audio = model.infer(torch.full((1, 80, 4), -5.0), sigma=0.6)
    assert audio.shape == (1, 4 * 256) and torch.isfinite(audio).all()
