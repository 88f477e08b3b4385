"""Every tensor the synthesis code and the benchmark tools make follows the requested device.

A CPU run cannot show a tensor made on the default device (the CPU) next to a model on a GPU,
so the paths run inside :class:`device_check.ImplicitDeviceCheck`, which fails on any tensor
factory call in the project's code that does not say its device (see there). The tools' CUDA
runs failed exactly so ("weight is on cuda:0, ... other tensors on cpu").
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from device_check import ImplicitDeviceCheck
from waveglow_fixtures import CONFIGS, make_vocoder

from waveflow.audio.formats.export import VocoderInference
from waveflow.audio.models import chunked
from waveflow.audio.synthesis.batch import SynthesisJob, SynthesisSettings, synthesize_to_files

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from bench import equivalence_check  # noqa: E402
from bench.cli import main as benchmark  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def checked(run) -> ImplicitDeviceCheck:
    with ImplicitDeviceCheck() as check:
        run()
    return check


def test_the_check_fails_on_a_factory_call_without_device():
    """It can fail: a call without ``device=`` in a project file is named by file and line;
    the same call with ``device=``, or from a test, or while building a module, passes."""
    planted = Path(__file__).resolve().parents[1] / "waveflow" / "planted.py"
    code = compile("x = torch.zeros(3)\ny = torch.zeros(3, device=x.device)", planted, "exec")
    with pytest.raises(AssertionError, match=r"waveflow/planted.py:1: torch.zeros"):
        checked(lambda: exec(code, {"torch": torch}))
    fixed = compile("y = torch.zeros(3, device='cpu')", planted, "exec")
    assert checked(lambda: exec(fixed, {"torch": torch})).calls == 1
    assert checked(lambda: (torch.zeros(3), torch.nn.Linear(2, 2))).calls > 1


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_synthesis_paths_make_every_tensor_on_the_model_device(name, tmp_path):
    model = make_vocoder(CONFIGS[name])
    mel = torch.randn(2, model.config.n_mel_channels, 40) - 4.0
    audio = 0.1 * torch.randn(2, 40 * model.config.hop_length)
    chunk = chunked.minimum_chunk_samples(model)

    def run() -> None:
        model.infer(mel, dtype=torch.bfloat16)
        model.infer(mel, chunk_samples=chunk)
        list(chunked.stream_synthesis(model, [mel[:, :, :15], mel[:, :, 15:]]))
        chunked.log_prob(model, audio, mel, chunk_samples=chunk)
        model.log_prob(audio, mel)
        inference = VocoderInference(model)
        inference(*inference.example_inputs(1, 8))
        jobs = [SynthesisJob(f"c{i}", mel[i, :, : 30 + i], tmp_path / f"{i}.wav") for i in (0, 1)]
        synthesize_to_files(model, jobs, 16000, SynthesisSettings(batch_size=2), "test")

    assert checked(run).calls > 0


def test_equivalence_check_follows_device():
    result = checked(lambda: equivalence_check.tiny_check(torch.device("cpu")))
    assert result.calls > 0


@pytest.mark.parametrize(
    "argv",
    [
        ["synth", "--dtype", "bf16"],
        ["train"],
        ["glow"],
        ["versus", "--seconds", "0.05", "--segment-length", "512", "--runs", "1"],
        ["memory", "--seconds", "0.2"],
    ],
    ids=lambda argv: argv[0],
)
def test_benchmark_commands_follow_device(argv, tmp_path):
    """``tools/benchmark.py`` cases (in this process) under the check."""
    command = [*argv, "--quick", "--no-isolate", "--threads", "1", "--device", "cpu"]
    assert checked(lambda: benchmark([*command, "--json", str(tmp_path / "b.json")]) == 0).calls
