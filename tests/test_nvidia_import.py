"""Importing NVIDIA WaveGlow checkpoints: same function as NVIDIA's maths, safe unpickling."""

from __future__ import annotations

import builtins
import os
import pickle
import sys

import pytest
import torch
from reference import nvidia_maths as nl

from waveflow.audio.formats.nvidia import load_nvidia_waveglow
from waveflow.cli import main
from waveflow.errors import WaveflowError

MEL = 6


def assert_same_function(model, reference, hop: int = 8) -> None:
    """Same z (up to layout), same NVIDIA loss and exact NLL, same audio at sigma 0."""
    model, reference = model.double(), reference.double()
    torch.manual_seed(1)
    mel = torch.randn(2, MEL, 5, dtype=torch.float64)
    audio = 0.2 * torch.randn(2, 4 * hop, dtype=torch.float64)
    with torch.no_grad():
        outputs = reference((mel, audio))
        z, logdet = model(audio, mel)
        grouped = outputs[0]  # [B, n_group, T / n_group]
        torch.testing.assert_close(z, grouped.transpose(1, 2).reshape(2, -1), atol=1e-12, rtol=0)
        metrics = model.nll(audio, mel)
        torch.testing.assert_close(metrics["nvidia_loss"], nl.nvidia_loss(outputs))
        exact = nl.nvidia_loss(outputs) + 0.5 * torch.log(torch.tensor(2 * torch.pi)).double()
        torch.testing.assert_close(metrics["nats_per_sample"], exact)
        torch.testing.assert_close(
            model.infer(mel, sigma=0.0), reference.infer(mel, sigma=0.0), atol=1e-12, rtol=0
        )


@pytest.mark.parametrize(
    ("old", "legacy"), [(False, False), (False, True), (True, False), (True, True)]
)
def test_pickled_nvidia_checkpoints_convert_exactly(tmp_path, old, legacy):
    reference = nl.make_reference(old=old)
    path = tmp_path / "waveglow.pt"
    nl.save_nvidia_checkpoint(reference, path, legacy=legacy)
    assert "glow" not in sys.modules and "glow_old" not in sys.modules
    model = load_nvidia_waveglow(path)
    assert model.config.hop_length == 8  # read from the pickled upsampler's stride
    assert model.config.alternate_coupling is old
    assert model.config.n_group == 4 and model.config.n_flows == 4
    assert_same_function(model, reference)


def test_hub_checkpoint_converts_exactly(tmp_path):
    reference = nl.make_reference()
    path = tmp_path / "hub.pt"
    torch.save(nl.hub_checkpoint(reference), path)
    assert_same_function(load_nvidia_waveglow(path, hop_length=8), reference)


def test_hub_config_that_disagrees_with_the_weights_is_reported(tmp_path):
    ckpt = nl.hub_checkpoint(nl.make_reference())
    ckpt["config"]["WN_config"]["n_channels"] = 512
    torch.save(ckpt, tmp_path / "hub.pt")
    with pytest.raises(WaveflowError, match=r"n_channels=512 \(tensors say 8\)"):
        load_nvidia_waveglow(tmp_path / "hub.pt", hop_length=8)


def test_missing_tensor_is_reported(tmp_path):
    ckpt = nl.hub_checkpoint(nl.make_reference())
    del ckpt["state_dict"]["module.WN.2.end.bias"]
    torch.save(ckpt, tmp_path / "hub.pt")
    with pytest.raises(WaveflowError, match="missing tensor 'WN.2.end.bias'"):
        load_nvidia_waveglow(tmp_path / "hub.pt", hop_length=8)


class _Exploit:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


@pytest.mark.parametrize("func", [os.system, builtins.eval])
def test_malicious_checkpoint_is_refused_without_running_code(tmp_path, func):
    marker = tmp_path / "pwned"
    payload = f"touch {marker}" if func is os.system else f"open({str(marker)!r}, 'w')"
    path = tmp_path / "evil.pt"
    torch.save({"model": _Exploit(func, payload)}, path)
    with pytest.raises(WaveflowError, match=r"refusing to load .*(system|eval)"):
        load_nvidia_waveglow(path)
    assert not marker.exists()


def test_plain_pickle_with_exploit_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Exploit(os.system, "true"), protocol=2))
    with pytest.raises(WaveflowError, match="refusing to load"):
        load_nvidia_waveglow(path)


def test_truncated_foreign_and_missing_files(tmp_path):
    good = tmp_path / "good.pt"
    nl.save_nvidia_checkpoint(nl.make_reference(), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WaveflowError, match="cannot load checkpoint"):
        load_nvidia_waveglow(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": [1, 2, 3]}, foreign)
    with pytest.raises(WaveflowError, match="not an NVIDIA WaveGlow checkpoint"):
        load_nvidia_waveglow(foreign)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(256))
    with pytest.raises(WaveflowError, match="cannot load checkpoint"):
        load_nvidia_waveglow(garbage)
    with pytest.raises(WaveflowError, match="not found"):
        load_nvidia_waveglow(tmp_path / "absent.pt")


def test_convert_command_writes_a_weights_only_native_checkpoint(tmp_path, capsys):
    reference = nl.make_reference(old=True)
    source, out = tmp_path / "nvidia.pt", tmp_path / "native" / "waveglow.pt"
    nl.save_nvidia_checkpoint(reference, source)
    assert main(["convert", str(source), str(out)]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["task"] == "waveglow"
    assert ckpt["config"]["model"]["alternate_coupling"] is True
    from waveflow.checkpoint import load_model

    model, _ = load_model(out)
    assert_same_function(model, reference)
    assert [p.name for p in out.parent.iterdir()] == ["waveglow.pt"]  # no temp files left


def test_convert_command_reports_bad_input_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["convert", str(bad), str(tmp_path / "out.pt")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("waveflow convert: error:") and "\n" not in err
    assert not (tmp_path / "out.pt").exists()
