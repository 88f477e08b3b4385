"""Every synthesis path at every precision and in every grad mode: no traceback, finite audio
of the right length, low precision close to float32.

Paths: ``WaveGlow.infer`` whole and in chunks, streaming (``stream_synthesis``) for the
published layout, a conditional prior with early outputs, the ``light`` and the ``fast``
(lapped) presets' options; the IAF student; the exported TorchScript graph (a float32 graph by
contract: inputs and outputs are float32, so it is checked at fp32 only) and the exported ONNX
graph through onnxruntime (fp32 likewise). Grad modes: autograd
on, ``torch.no_grad()``, ``torch.inference_mode()`` (the mode PyTorch recommends for inference).
Low precision is forced on (as on a CPU or GPU with native bf16/fp16 units) so that it really
runs; the fallback to float32 on CPUs without them is tested at the end.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import io

import numpy as np
import pytest
import torch
from waveglow_fixtures import CONFIGS, TINY, make_vocoder

from waveflow.audio.formats.export import (
    VocoderInference,
    export_onnx,
    export_torchscript,
    onnxruntime_runner,
)
from waveflow.audio.models.chunked import minimum_chunk_samples, stream_synthesis
from waveflow.audio.models.student import IAFStudent, IAFStudentConfig
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.models.wavenet import PrecisionFallbackWarning
from waveflow.cli import main
from waveflow.device import cpu_has_native, native_low_precision

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
GRAD_MODES = {
    "autograd": contextlib.nullcontext,
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
}
# relative L2 distance of the audio to float32 from the same latent: about 5 units of the
# format's rounding (measured over this matrix: bf16 <= 0.0045, fp16 <= 0.00055)
TOLERANCE = {torch.float32: 1e-6, torch.bfloat16: 0.02, torch.float16: 0.003}
MODELS = {
    "published": CONFIGS["published-layout"],
    "conditional-prior": {**TINY, "prior": "conditional"},  # Split prior nets + LearnedPrior
    "light": CONFIGS["light-layout"],
    "fast-lapped": CONFIGS["fast-lapped-layout"],
}
FRAMES = 48
SEED = 3


@pytest.fixture(autouse=True)
def native_units(monkeypatch):
    """Every low precision runs as asked (see the module docstring)."""
    monkeypatch.setattr("waveflow.device.cpu_has_native", lambda dtype: True)


@functools.cache
def vocoder(name: str) -> WaveGlow:
    return make_vocoder(MODELS[name])


@functools.cache
def student() -> IAFStudent:
    torch.manual_seed(0)
    model = IAFStudent(
        IAFStudentConfig(n_mel_channels=8, n_flows=2, n_layers=3, n_channels=8,
                         hop_length=16, upsample_kernel=64)
    )  # fmt: skip
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "end"):
                module.end.weight.normal_(0, 0.1)
    return model.eval()


def mel_for(n_mel: int, frames: int = FRAMES) -> torch.Tensor:
    return torch.randn(2, n_mel, frames, generator=torch.Generator().manual_seed(1)) - 4.0


def generator(device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device).manual_seed(SEED)


def whole(model: WaveGlow, mel: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return model.infer(mel, generator=generator(mel.device), dtype=dtype)


def chunked(model: WaveGlow, mel: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    chunk = minimum_chunk_samples(model)
    assert mel.shape[2] * model.config.hop_length >= 3 * chunk  # really several chunks
    return model.infer(mel, generator=generator(mel.device), dtype=dtype, chunk_samples=chunk)


def streaming(model: WaveGlow, mel: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    blocks = [mel[:, :, i : i + 5] for i in range(0, mel.shape[2], 5)]
    stream = stream_synthesis(model, blocks, generator=generator(mel.device), dtype=dtype)
    return torch.cat(list(stream), 1)


PATHS = {"whole": whole, "chunked": chunked, "streaming": streaming}


def check_audio(audio: torch.Tensor, reference: torch.Tensor, dtype: torch.dtype) -> None:
    assert audio.shape == reference.shape
    assert audio.dtype == torch.float32 and audio.device == reference.device
    assert torch.isfinite(audio).all()
    distance = ((audio - reference).norm() / reference.norm()).item()
    assert distance < TOLERANCE[dtype], f"relative distance to float32: {distance:.2e}"
    if dtype != torch.float32:
        assert distance > 0  # it did run in low precision


@functools.cache
def reference(name: str, path: str) -> torch.Tensor:
    model = vocoder(name)
    mel = mel_for(model.config.n_mel_channels)
    with torch.no_grad():
        audio = PATHS[path](model, mel, torch.float32)
    assert audio.shape == (2, FRAMES * model.config.hop_length)
    return audio


@pytest.mark.parametrize("mode", GRAD_MODES)
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", MODELS)
def test_waveglow_synthesis_paths(name, path, precision, mode):
    model, dtype = vocoder(name), PRECISIONS[precision]
    mel = mel_for(model.config.n_mel_channels)
    with GRAD_MODES[mode]():
        audio = PATHS[path](model, mel, dtype)
    check_audio(audio, reference(name, path), dtype)


def test_the_paths_agree_in_float32():
    """Whole, chunked and streaming synthesis are the same function (the chunks are exact)."""
    for name in MODELS:
        torch.testing.assert_close(reference(name, "chunked"), reference(name, "whole"))
        torch.testing.assert_close(reference(name, "streaming"), reference(name, "whole"))


@pytest.mark.parametrize("mode", GRAD_MODES)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_student_synthesis(precision, mode):
    model, dtype = student(), PRECISIONS[precision]
    mel = mel_for(model.config.n_mel_channels)
    with torch.no_grad():
        expected = model.infer(mel, generator=generator())
    with GRAD_MODES[mode]():
        audio = model.infer(mel, generator=generator(), dtype=dtype)
    check_audio(audio, expected, dtype)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load is deprecated in 2.9+
@pytest.mark.parametrize("mode", GRAD_MODES)
def test_exported_models(mode):
    """Built, exported and run in each grad mode (ONNX through onnxruntime when installed)."""
    with GRAD_MODES[mode]():
        inference = VocoderInference(vocoder("fast-lapped"))
        mel, z = inference.example_inputs(2, FRAMES)
        expected = inference(mel, z)
        scripted = torch.jit.load(io.BytesIO(export_torchscript(inference)))
        check_audio(scripted(mel, z), expected, torch.float32)
        if importlib.util.find_spec("onnxruntime") is not None:
            run = onnxruntime_runner(export_onnx(inference))
            torch.testing.assert_close(run(mel, z), expected, rtol=1e-4, atol=1e-4)


def fresh_copy(model: WaveGlow) -> WaveGlow:
    """A new model with ``model``'s weights and no cached values."""
    copy = WaveGlow(model.config)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_weight_caches_follow_training_steps_and_loads(mode):
    """The weights derived and cached for synthesis (fused skip projections, 1x1 inverses,
    upsampler GEMM weight) are reused between calls and recomputed when training or a load
    changes the weights, also when the synthesis runs under ``inference_mode``."""
    model = make_vocoder(MODELS["conditional-prior"], seed=1)
    mel = mel_for(model.config.n_mel_channels)
    net = model.flow_steps()[0].coupling.net
    with GRAD_MODES[mode]():
        before = whole(model, mel, torch.float32)
        first = net._projection(0, net.res_skip_layers[0])[0]
        assert net._projection(0, net.res_skip_layers[0])[0] is first  # cached
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    audio = 0.1 * torch.randn(2, FRAMES * model.config.hop_length)
    model.nll(audio, mel)["nvidia_loss"].backward()
    optimizer.step()
    with GRAD_MODES[mode]():
        after = whole(model, mel, torch.float32)
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, whole(fresh_copy(model), mel, torch.float32))
    other = make_vocoder(MODELS["conditional-prior"], seed=2)
    with GRAD_MODES[mode]():
        model.load_state_dict(other.state_dict())
        loaded = whole(model, mel, torch.float32)
    torch.testing.assert_close(loaded, whole(other, mel, torch.float32))


@pytest.fixture
def no_native_units(monkeypatch):
    monkeypatch.setattr("waveflow.device.cpu_has_native", lambda dtype: False)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_without_native_units_synthesis_runs_float32(no_native_units, precision):
    model = vocoder("light")
    mel = mel_for(model.config.n_mel_channels)
    name = {"bf16": "bfloat16", "fp16": "float16"}[precision]
    with pytest.warns(PrecisionFallbackWarning, match=f"{name} asked for"):
        audio = whole(model, mel, PRECISIONS[precision])
    torch.testing.assert_close(audio, reference("light", "whole"), rtol=0, atol=0)
    with pytest.warns(PrecisionFallbackWarning):
        student().infer(mel_for(8), dtype=PRECISIONS[precision])


def test_the_fallback_is_one_warning_line_in_the_cli(no_native_units, tmp_path, capsys):
    """``--dtype bf16`` on such a CPU: one ``warning:`` line, however many chunks are run."""
    mel = tmp_path / "clip.npy"
    np.save(mel, np.random.default_rng(0).normal(-5.0, 1.0, (80, 400)).astype(np.float32))
    args = ["synthesize", str(mel), "--out", str(tmp_path / "out"), "--dtype", "bf16"]
    assert main([*args, "--device", "cpu", "--chunk-samples", str(64 * 256)]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(lines) == 1 and "running float32" in lines[0], lines


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
def test_native_units_decision():
    """The decision follows torch's own oneDNN checks and its switch; GPUs are trusted."""
    with torch.backends.mkldnn.flags(enabled=False):
        assert not cpu_has_native(torch.bfloat16) and not cpu_has_native(torch.float16)
    for dtype, probe in [(torch.bfloat16, torch.ops.mkldnn._is_mkldnn_bf16_supported)]:
        assert cpu_has_native(dtype) == (torch.backends.mkldnn.is_available() and probe())
    assert native_low_precision(torch.float16, torch.device("meta"))


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@CUDA
@pytest.mark.parametrize("name", MODELS)
def test_synthesis_paths_on_cuda(name):
    """The matrix on a GPU (native units): every path, precision and grad mode."""
    model = copy.deepcopy(vocoder(name)).cuda()
    mel = mel_for(model.config.n_mel_channels).cuda()
    for path, synthesize in PATHS.items():
        with torch.no_grad():
            expected = synthesize(model, mel, torch.float32)
        for dtype in PRECISIONS.values():
            for mode in GRAD_MODES.values():
                with mode():
                    check_audio(synthesize(model, mel, dtype), expected, dtype)
        cpu = reference(name, path)  # fp32 on the GPU is the CPU's function (cuDNN's TF32 aside)
        assert (expected.cpu() - cpu).norm() / cpu.norm() < 5e-3


@CUDA
@pytest.mark.parametrize("precision", PRECISIONS)
def test_default_vocoder_copy_synthesis_on_cuda(precision, demo_corpus, tmp_path):
    clip = sorted((demo_corpus / "wavs").glob("*.flac"))[0]
    out = tmp_path / "out"
    assert main(["copy-synthesis", str(clip), "--out", str(out), "--device", "cuda",
                 "--dtype", precision]) == 0  # fmt: skip
    assert len(list(out.glob("*.wav"))) == 1
