"""WaveFlow (task: waveflow): the height-autoregressive bijector, the model, its task and errors.

Exactness in float64 (round trip, log-det against the autograd Jacobian) for the generic
bijector and the whole model; the bad-input errors of the family are one line and name both
the option and the model."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from flow_checks import assert_bijective
from reference import nvidia_maths as nl
from torch import nn

from waveflow.audio.formats.vocoder_file import load_vocoder
from waveflow.audio.models.height_wavenet import HeightCausalWaveNet, height_dilations
from waveflow.audio.models.waveflow_model import WaveFlow, WaveFlowConfig, row_permutation
from waveflow.audio.synthesis.batch import synthesis_chunk
from waveflow.bijectors import AxisAutoregressiveAffine, AxisPermutation, ChannelsToAxis
from waveflow.checkpoint import save_checkpoint
from waveflow.cli import main
from waveflow.errors import WaveflowError
from waveflow.train.config import load_config
from waveflow.train.engine import train

PRESET = Path(__file__).resolve().parents[1] / "recipes" / "ljspeech" / "conf" / "waveflow.yaml"
TINY = dict(n_mel_channels=5, n_group=4, n_flows=2, n_layers=2, n_channels=4, hop_length=16)


def randomise(module: nn.Module, seed: int = 0, scale: float = 0.3) -> nn.Module:
    """Perturb every parameter (the zero-initialised end convs make a fresh flow the identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


def test_axis_autoregressive_affine_is_exact_along_the_height():
    torch.manual_seed(0)
    net = randomise(HeightCausalWaveNet(2, 3, 3, 4, 3, n_rows=5)).double()
    layer = AxisAutoregressiveAffine(2, net, axis=2)
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64)
    cond = torch.randn(2, 3, 6, dtype=torch.float64)  # no height axis: broadcast by the net
    assert_bijective(layer, x, cond)


class LastAxisCausalNet(nn.Module):
    """A net causal along the LAST axis (kernel 2, left-padded) whose cond has that axis too."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, (1, 2))

    def forward(self, u, cond):
        return torch.tanh(self.conv(torch.nn.functional.pad(torch.cat([u, cond], 1), (1, 0))))


def test_axis_autoregressive_affine_windows_and_cuts_a_same_rank_cond():
    torch.manual_seed(1)
    net = randomise(LastAxisCausalNet()).double()
    layer = AxisAutoregressiveAffine(1, net, axis=3, receptive_field=2)
    x = torch.randn(2, 1, 3, 7, dtype=torch.float64)
    assert_bijective(layer, x, torch.randn(2, 1, 3, 7, dtype=torch.float64))


def test_axis_autoregressive_affine_inverse_needs_the_whole_receptive_field():
    torch.manual_seed(2)
    net = randomise(HeightCausalWaveNet(1, 2, 2, 4, 3, n_rows=8)).double()
    cond = torch.randn(1, 2, 3, dtype=torch.float64)
    z = torch.randn(1, 1, 8, 3, dtype=torch.float64)
    exact = AxisAutoregressiveAffine(1, net, axis=2)
    x = exact.inverse(z, cond)[0]
    torch.testing.assert_close(exact(x, cond)[0], z, atol=1e-10, rtol=0)
    short = AxisAutoregressiveAffine(1, net, axis=2, receptive_field=1)
    assert not torch.allclose(short.inverse(z, cond)[0], x)


def test_row_permutations_and_reshape_bijectors():
    x = torch.randn(2, 1, 6, 3, dtype=torch.float64)
    assert_bijective(AxisPermutation([2, 0, 1, 5, 4, 3]), x)
    assert_bijective(ChannelsToAxis(), torch.randn(2, 4, 3, dtype=torch.float64))
    cfg = WaveFlowConfig(n_group=8, n_flows=4)
    assert row_permutation(0, cfg) == [7, 6, 5, 4, 3, 2, 1, 0]
    assert row_permutation(3, cfg) == [3, 2, 1, 0, 7, 6, 5, 4]
    assert row_permutation(3, WaveFlowConfig(n_flows=4, permutation="reverse")) == list(
        range(15, -1, -1)
    )
    assert height_dilations(8, 16) == [1, 2, 4, 8, 1, 2, 4, 8]
    with pytest.raises(ValueError, match="permutation of 0..n-1"):
        AxisPermutation([0, 0, 1])


@pytest.mark.parametrize("permutation", ["reverse", "reverse_then_bipartite"])
def test_waveflow_model_is_exact_in_float64(permutation):
    torch.manual_seed(3)
    model = randomise(WaveFlow(**TINY, permutation=permutation)).double()
    mel = torch.randn(2, 5, 2, dtype=torch.float64)
    audio = torch.randn(2, 32, dtype=torch.float64)

    z, logdet = model(audio, mel)
    back, inv_logdet = model.inverse(z, mel)
    torch.testing.assert_close(back, audio, atol=1e-10, rtol=0)
    torch.testing.assert_close(inv_logdet, -logdet, atol=1e-9, rtol=0)
    flat = model.flow.transform
    cond = model.condition(mel, 32)
    assert_bijective(flat, audio[:, None], cond)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1) + logdet
    torch.testing.assert_close(model.log_prob(audio, mel), expected)


def test_waveflow_paper_size_and_synthesis_shapes():
    assert sum(p.numel() for p in WaveFlow().parameters()) == pytest.approx(5.94e6, rel=0.01)
    model = WaveFlow(**TINY).eval()
    mel = torch.randn(2, 5, 3)
    gen = torch.Generator().manual_seed(0)
    audio = model.infer(mel, sigma=0.5, generator=gen)
    assert audio.shape == (2, 48) and torch.isfinite(audio).all()
    with pytest.raises(WaveflowError, match="chunked synthesis.*WaveFlow"):
        model.infer(mel, chunk_samples=64)
    with pytest.raises(WaveflowError, match="full precision"):
        model.infer(mel, dtype=torch.bfloat16)
    with pytest.raises(
        WaveflowError, match="WaveFlow: audio length 30 must be a positive multiple"
    ):
        model(torch.randn(2, 30), mel)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n_group": 1}, "n_group .* must be >= 2"),
        ({"n_group": 12}, r"hop_length \(256\) must be a multiple of n_group \(12\)"),
        ({"kernel_size": 2}, "kernel_size must be odd"),
        ({"permutation": "shuffle"}, "permutation must be one of"),
        ({"n_flows": True}, "n_flows must be a positive integer"),
    ],
)
def test_waveflow_config_errors(fields, message):
    with pytest.raises(WaveflowError, match=message):
        WaveFlowConfig(**fields)


@pytest.mark.parametrize("key", ["model.lapped=true", "model.prior=conditional", "model.lu=true"])
def test_waveglow_only_options_are_one_line_errors_naming_both(key):
    with pytest.raises(WaveflowError) as info:
        load_config(PRESET, [key])
    text = str(info.value)
    assert "\n" not in text and key.partition("=")[0] in text and "task waveflow" in text


def tiny_run(corpus: Path, exp: Path, *extra: str) -> list[str]:
    return [
        f"data.root={corpus}", "data.segment_length=1024", "data.n_valid=1", "data.n_test=1",
        "data.cache_dir=null", f"train.exp_dir={exp}", "train.steps=2", "train.batch_size=2",
        "train.valid_every=0", "train.ckpt_every=2", "train.media_every=0", "train.log_every=1",
        "model.n_flows=2", "model.n_layers=2", "model.n_channels=4", *extra,
    ]  # fmt: skip


def test_init_from_an_nvidia_or_waveglow_file_names_both(tmp_path: Path, tiny_ljspeech: Path):
    published = tmp_path / "nvidia.pt"
    nl.save_nvidia_checkpoint(
        nl.make_reference(
            n_mel_channels=80, n_flows=2, n_group=8, n_early_every=2, n_early_size=2,
            WN_config={"n_layers": 2, "n_channels": 8, "kernel_size": 3},
            hop_length=256, upsample_kernel=256,
        ),
        published,
    )  # fmt: skip
    config = load_config(
        PRESET, tiny_run(tiny_ljspeech, tmp_path / "e", f"train.init_from={published}")
    )
    with pytest.raises(WaveflowError, match="task waveflow .*NVIDIA WaveGlow") as info:
        train(config)
    assert "\n" not in str(info.value) and str(published) in str(info.value)
    native = tmp_path / "waveglow.pt"
    save_checkpoint({"task": "waveglow", "config": {"model": {}}, "model": {}}, native)
    config = load_config(
        PRESET, tiny_run(tiny_ljspeech, tmp_path / "f", f"train.init_from={native}")
    )
    with pytest.raises(WaveflowError, match="holds a 'waveglow' model, not 'waveflow'"):
        train(config)


def test_trains_synthesises_and_refuses_chunks_and_export(tmp_path: Path, tiny_ljspeech: Path):
    exp = tmp_path / "exp"
    assert main(["train", "--config", str(PRESET), *tiny_run(tiny_ljspeech, exp)]) == 0
    ckpt = exp / "ckpt_00000002.pt"
    model, mel_config = load_vocoder(ckpt, torch.device("cpu"))
    assert isinstance(model, WaveFlow) and asdict(model.config)["n_flows"] == 2
    with pytest.raises(WaveflowError, match="WaveFlow .*synthesised whole"):
        synthesis_chunk(model, 4096)
    wavs = sorted((tiny_ljspeech / "wavs").iterdir())[:1]
    out = tmp_path / "out"
    assert (
        main(["copy-synthesis", "--checkpoint", str(ckpt), "--out", str(out), *map(str, wavs)]) == 0
    )
    assert len(list(out.glob("*.wav"))) == 1
    assert main(["copy-synthesis", "--checkpoint", str(ckpt), "--out", str(tmp_path / "o2"),
                 "--chunk-samples", "65536", *map(str, wavs)]) != 0  # fmt: skip
    assert main(["export", "--checkpoint", str(ckpt), "--format", "torchscript",
                 str(tmp_path / "x.pt")]) != 0  # fmt: skip
    assert main(["evaluate", "--ref", str(wavs[0].parent), "--checkpoint", str(ckpt)]) == 0
