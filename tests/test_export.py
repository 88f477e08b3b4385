"""`waveflow export`: TorchScript and ONNX equal eager synthesis, at dynamic lengths, without
waveflow installed; bad input gives one-line errors and never a file.

The parity tests are parametrised over model configs (`CONFIGS`): adding a WaveGlow preset to
the exported set is one line there.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
import torch
from reference import nvidia_maths as nl
from waveglow_fixtures import CONFIGS, make_vocoder

from waveflow.audio.formats.export import VocoderInference, export_onnx, export_torchscript
from waveflow.audio.models import chunked
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.models.wavenet import weight_normed_modules
from waveflow.checkpoint import save_checkpoint
from waveflow.cli import main
from waveflow.errors import WaveflowError

SIGMA = 0.6
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")


def eager_and_latent(model: WaveGlow, mel: torch.Tensor, seed: int):
    """Eager synthesis (``WaveGlow.infer``'s chunked path) from a seeded latent ``z [B, F*hop]``,
    and that latent."""
    shape = (mel.shape[0], mel.shape[2] * model.config.hop_length)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * SIGMA
    with torch.no_grad():
        audio = chunked.synthesize(model, mel, z=z)
    return audio, z


def mel_batch(model: WaveGlow, batch: int, frames: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, model.config.n_mel_channels, frames, generator=generator) - 5.0


@pytest.fixture(params=sorted(CONFIGS), ids=sorted(CONFIGS))
def vocoder(request) -> WaveGlow:
    return make_vocoder(CONFIGS[request.param])


def test_torchscript_equals_eager_infer_at_other_lengths(vocoder):
    data = export_torchscript(VocoderInference(vocoder))
    assert any(True for _ in weight_normed_modules(vocoder))  # the caller's model is untouched
    extra = {"waveflow.json": ""}
    scripted = torch.jit.load(io.BytesIO(data), _extra_files=extra)
    assert json.loads(extra["waveflow.json"])["hop_length"] == vocoder.config.hop_length
    for batch, frames in [(1, 3), (2, 8), (3, 21)]:  # traced at 8 frames, batch 1
        mel = mel_batch(vocoder, batch, frames, seed=frames)
        expected, z = eager_and_latent(vocoder, mel, seed=frames)
        with torch.no_grad():
            got = scripted(mel, z)
        assert got.shape == expected.shape == (batch, frames * vocoder.config.hop_length)
        assert (got - expected).abs().max() < 1e-4


def test_onnx_equals_eager_infer_in_onnxruntime(vocoder):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    data = export_onnx(VocoderInference(vocoder), opset=17)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["hop_length"]) == vocoder.config.hop_length
    for batch, frames in [(1, 3), (2, 8), (3, 21)]:
        mel = mel_batch(vocoder, batch, frames, seed=frames)
        expected, z = eager_and_latent(vocoder, mel, seed=frames)
        got = session.run(["audio"], {"mel": mel.numpy(), "z": z.numpy()})[0]
        assert got.shape == tuple(expected.shape)
        assert np.abs(got - expected.numpy()).max() < 1e-4


def test_onnx_with_fixed_frames_takes_only_that_length():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = make_vocoder(CONFIGS["published-layout"])
    session = ort.InferenceSession(export_onnx(VocoderInference(model), frames=5))
    mel = mel_batch(model, 2, 5, seed=0)
    expected, z = eager_and_latent(model, mel, seed=0)
    got = session.run(None, {"mel": mel.numpy(), "z": z.numpy()})[0]
    assert np.abs(got - expected.numpy()).max() < 1e-4
    mel, z = mel_batch(model, 2, 6, seed=0), torch.zeros(2, 6 * 16)
    with pytest.raises(Exception, match="dimensions"):
        session.run(None, {"mel": mel.numpy(), "z": z.numpy()})


class BakedLength(VocoderInference):
    """A wrapper whose trace bakes the example length in (a Python int taken from a shape)."""

    def forward(self, mel, z):
        length = int(z.shape[1])
        cond = self.model.condition(mel, length)
        return self.model.flow.inverse(z.reshape(-1, 1, length), cond)[0].squeeze(1)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_an_export_that_is_wrong_at_another_length_is_refused(fmt):
    if fmt == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
    baked = BakedLength(make_vocoder(CONFIGS["published-layout"]))
    export = export_onnx if fmt == "onnx" else export_torchscript
    with pytest.raises(WaveflowError, match="nothing was written"):
        export(baked)
    export(baked, frames=8)  # at the traced length it is right


# ------------------------------------------------------------------------- the command line


def native_checkpoint(path, config: dict) -> WaveGlow:
    model = make_vocoder(config)
    cfg = {"model": asdict(model.config), "data": {"mel": {"sample_rate": 16000}}}
    save_checkpoint({"task": "waveglow", "config": cfg, "model": model.state_dict()}, path)
    return model


# Runs in a fresh interpreter that cannot import waveflow (isolated mode: no PYTHONPATH, no
# current folder on sys.path; sys.modules entry None makes every `import waveflow` fail).
WITHOUT_WAVEFLOW = r"""
import sys
sys.modules["waveflow"] = None
try:
    import waveflow
except ImportError:
    pass
else:
    raise SystemExit("waveflow is importable")
import numpy as np, onnxruntime, torch
folder = sys.argv[1]
mel, z = np.load(folder + "/mel.npy"), np.load(folder + "/z.npy")
scripted = torch.jit.load(folder + "/vocoder.pt")
with torch.no_grad():
    np.save(folder + "/ts.npy", scripted(torch.from_numpy(mel), torch.from_numpy(z)).numpy())
session = onnxruntime.InferenceSession(folder + "/vocoder.onnx", providers=["CPUExecutionProvider"])
np.save(folder + "/ort.npy", session.run(["audio"], {"mel": mel, "z": z})[0])
"""


def test_cli_exports_load_without_waveflow(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    model = native_checkpoint(tmp_path / "model.pt", CONFIGS["published-layout"])
    for fmt, name in [("torchscript", "vocoder.pt"), ("onnx", "vocoder.onnx")]:
        argv = ["export", "--checkpoint", str(tmp_path / "model.pt"), "--format", fmt]
        assert main([*argv, str(tmp_path / name)]) == 0
        assert f"wrote {tmp_path / name}" in capsys.readouterr().err
    mel = mel_batch(model, 2, 7, seed=3)
    expected, z = eager_and_latent(model, mel, seed=3)
    np.save(tmp_path / "mel.npy", mel.numpy())
    np.save(tmp_path / "z.npy", z.numpy())
    proc = subprocess.run(
        [sys.executable, "-I", "-c", WITHOUT_WAVEFLOW, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("ts.npy", "ort.npy"):
        assert np.abs(np.load(tmp_path / name) - expected.numpy()).max() < 1e-4


def test_cli_exports_an_nvidia_checkpoint_with_fixed_frames(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from waveflow.audio.formats.nvidia import load_nvidia_waveglow

    nl.save_nvidia_checkpoint(nl.make_reference(), tmp_path / "nvidia.pt")
    argv = ["export", "--checkpoint", str(tmp_path / "nvidia.pt"), "--format", "onnx"]
    assert main([*argv, "--frames", "6", "--opset", "13", str(tmp_path / "v.onnx")]) == 0
    model = load_nvidia_waveglow(tmp_path / "nvidia.pt").eval()
    mel = mel_batch(model, 3, 6, seed=1)
    expected, z = eager_and_latent(model, mel, seed=1)
    session = ort.InferenceSession(str(tmp_path / "v.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["frames"] == "6"
    got = session.run(None, {"mel": mel.numpy(), "z": z.numpy()})[0]
    assert np.abs(got - expected.numpy()).max() < 1e-4


def bad_checkpoint(kind: str, path) -> None:
    if kind == "glow":
        cfg = {"model": {"image_size": 8}}
        save_checkpoint({"task": "glow", "config": cfg, "model": {}}, path)
    elif kind == "mismatched":
        model = WaveGlow(**CONFIGS["published-layout"])
        cfg = {"model": asdict(model.config) | {"n_channels": 16}}
        save_checkpoint({"task": "waveglow", "config": cfg, "model": model.state_dict()}, path)
    else:
        path.write_bytes(b"not a checkpoint at all")


@pytest.mark.parametrize(
    "kind, extra, message",
    [
        ("glow", [], "'glow' model, not a vocoder"),
        ("mismatched", [], "does not match the model"),
        ("garbage", [], "cannot load checkpoint"),
        ("ok", ["--opset", "9"], "--opset 9 is not supported: choose an ONNX opset from 13"),
        ("ok", ["--opset", "21"], "--opset 21 is not supported"),
        ("ok", ["--frames", "0"], "--frames must be a positive"),
    ],
)
def test_cli_bad_input_is_one_error_line_and_no_file(tmp_path, capsys, kind, extra, message):
    if kind == "ok":
        native_checkpoint(tmp_path / "model.pt", CONFIGS["published-layout"])
    else:
        bad_checkpoint(kind, tmp_path / "model.pt")
    out = tmp_path / "out"
    out.mkdir()
    argv = ["export", "--checkpoint", str(tmp_path / "model.pt"), "--format", "onnx", *extra]
    assert main([*argv, str(out / "vocoder.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("waveflow export: error:") and "\n" not in err
    assert message in err
    assert list(out.iterdir()) == []


def test_cli_output_in_a_missing_folder_is_refused_before_loading(tmp_path, capsys):
    out = tmp_path / "missing" / "vocoder.pt"
    argv = ["export", "--checkpoint", str(tmp_path / "absent.pt"), "--format", "torchscript"]
    assert main([*argv, str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"waveflow export: error: output folder {out.parent} does not exist (output {out})"
    )
    assert not out.parent.exists()


def test_onnx_failing_the_checker_is_never_written(tmp_path, capsys, monkeypatch):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    native_checkpoint(tmp_path / "model.pt", CONFIGS["published-layout"])
    calls = []

    def reject(model, full_check=False):
        calls.append(model)
        raise onnx.checker.ValidationError("Field 'type' of 'value_info' is required")

    monkeypatch.setattr(onnx.checker, "check_model", reject)
    out = tmp_path / "out"
    out.mkdir()
    argv = ["export", "--checkpoint", str(tmp_path / "model.pt"), "--format", "onnx"]
    assert main([*argv, str(out / "vocoder.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert "fails onnx.checker: Field 'type'" in err and "\n" not in err
    assert len(calls) == 1 and list(out.iterdir()) == []
