"""train.init_from for the vocoder: recipes/ljspeech/conf/finetune.yaml from an NVIDIA-layout
file (CLI) and from a native checkpoint (Python API) on a tiny corpus, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference import nvidia_maths as nl

from waveflow.audio.formats.nvidia import load_nvidia_waveglow
from waveflow.checkpoint import load_checkpoint, load_model
from waveflow.cli import main
from waveflow.dataclass_dict import to_dict
from waveflow.errors import WaveflowError
from waveflow.image.glow import GlowConfig
from waveflow.task import get_task
from waveflow.train.config import load_config
from waveflow.train.engine import train

FINETUNE = Path(__file__).resolve().parents[1] / "recipes" / "ljspeech" / "conf" / "finetune.yaml"
ARCH = dict(
    n_mel_channels=80, n_flows=2, n_group=8, n_early_every=2, n_early_size=2,
    WN_config={"n_layers": 2, "n_channels": 8, "kernel_size": 3},
    hop_length=256, upsample_kernel=256,
)  # fmt: skip


def overrides(corpus: Path, exp_dir: Path, init_from: Path, **model: object) -> list[str]:
    """finetune.yaml shrunk to the tiny NVIDIA-layout model and a few CPU steps."""
    arch = {"n_flows": 2, "n_early_every": 2, "n_layers": 2, "n_channels": 8, **model}
    arch["upsample_kernel"] = 256
    return [
        *(f"model.{key}={value}" for key, value in arch.items()),
        f"data.root={corpus}", "data.segment_length=2048", "data.n_valid=1", "data.n_test=1",
        "data.cache_dir=null", f"train.exp_dir={exp_dir}", "train.steps=2", "train.batch_size=2",
        "train.num_workers=0", "train.valid_every=0", "train.ckpt_every=0", "train.media_every=0",
        "train.lr=1e-12", "train.warmup_steps=0", "train.device=cpu", "train.log_every=1",
        f"train.init_from={init_from}",
    ]  # fmt: skip


def assert_weights_equal(path: Path, expected: dict[str, torch.Tensor]) -> None:
    ckpt = load_checkpoint(path)
    assert ckpt["step"] == 2 and "raw_model" in ckpt  # a fresh run with the recipe's EMA
    for key in ("model", "raw_model"):
        assert ckpt[key].keys() == expected.keys()
        for name, value in expected.items():
            assert torch.allclose(ckpt[key][name], value, atol=1e-6), f"{key}.{name}"


def test_finetune_recipe_starts_from_an_nvidia_file_with_the_cli(
    tmp_path: Path, tiny_ljspeech: Path
) -> None:
    published = tmp_path / "waveglow_nvidia.pt"
    nl.save_nvidia_checkpoint(nl.make_reference(**ARCH), published)
    exp = tmp_path / "exp"
    argv = ["train", "--config", str(FINETUNE), *overrides(tiny_ljspeech, exp, published)]
    assert main(argv) == 0
    expected = load_nvidia_waveglow(published).state_dict()
    assert_weights_equal(exp / "ckpt_00000002.pt", expected)  # lr 1e-12: still the published
    model, _ = load_model(exp / "ckpt_00000002.pt")  # what synthesis reads
    assert model.config.n_channels == 8


def test_finetune_recipe_starts_from_a_native_checkpoint_with_the_python_api(
    tmp_path: Path, tiny_ljspeech: Path
) -> None:
    published, native = tmp_path / "nvidia.pt", tmp_path / "native.pt"
    nl.save_nvidia_checkpoint(nl.make_reference(**ARCH), published)
    assert main(["convert", str(published), str(native)]) == 0
    exp = tmp_path / "exp"
    result = train(load_config(FINETUNE, overrides(tiny_ljspeech, exp, native)))
    assert result["step"] == 2
    assert_weights_equal(exp / "ckpt_00000002.pt", load_checkpoint(native)["model"])


def test_init_from_errors_are_one_line(tmp_path: Path, tiny_ljspeech: Path) -> None:
    wide, old, truncated, glow = (
        tmp_path / name for name in ("wide.pt", "old.pt", "truncated.pt", "glow.pt")
    )
    nl.save_nvidia_checkpoint(
        nl.make_reference(**{**ARCH, "WN_config": {**ARCH["WN_config"], "n_channels": 16}}), wide
    )
    nl.save_nvidia_checkpoint(nl.make_reference(old=True, **ARCH), old)
    truncated.write_bytes(old.read_bytes()[:4000])
    glow_config = GlowConfig(image_size=8, n_levels=1, n_steps=1, hidden_channels=4)
    glow_model = get_task("glow").build_model(glow_config)
    torch.save(
        {
            "task": "glow",
            "config": {"model": to_dict(glow_config)},
            "model": glow_model.state_dict(),
        },
        glow,
    )
    cases = {
        wide: r"parameter '\S+net.start.bias' has shape \[16\] in the checkpoint but \[8\] in",
        old: "was trained with model.alternate_coupling=True, but the config says False",
        truncated: "truncated",
        glow: "holds a 'glow' model, not 'waveglow'",
        tmp_path / "absent.pt": "not found",
    }
    for index, (path, message) in enumerate(cases.items()):
        config = load_config(FINETUNE, overrides(tiny_ljspeech, tmp_path / f"e{index}", path))
        with pytest.raises(WaveflowError, match=message) as info:
            train(config)
        assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_init_from_nvidia_refuses_a_lapped_model(tmp_path: Path, tiny_ljspeech: Path) -> None:
    """The fold has no weights, so only the config shows that NVIDIA's model never had it."""
    published = tmp_path / "nvidia.pt"
    nl.save_nvidia_checkpoint(nl.make_reference(**ARCH), published)
    config = load_config(FINETUNE, overrides(tiny_ljspeech, tmp_path / "e", published, lapped=True))
    with pytest.raises(WaveflowError, match="model.lapped=False, but the config says True"):
        train(config)
    assert not (tmp_path / "e").exists() or not list((tmp_path / "e").glob("*.pt"))
