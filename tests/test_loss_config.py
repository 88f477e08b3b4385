"""The `loss:` section: parsed per task, handed to `Task.loss`, old keys name their new place,
and checkpoints written before the move still load."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from engine_stand_in import ToyLossConfig, ToyTask
from recipe_summary import training_front_end_and_sigma

from waveflow import task as registry
from waveflow.audio.tasks.distill import DistillLossConfig
from waveflow.audio.tasks.vocoder import FlowVocoderLossConfig
from waveflow.checkpoint import load_model, save_checkpoint
from waveflow.dataclass_dict import to_dict
from waveflow.errors import WaveflowError
from waveflow.image import Glow, GlowConfig
from waveflow.image.task import GlowLossConfig, GlowTask
from waveflow.task import NoLossOptions
from waveflow.train.config import load_config, parse_config, save_config


class QuietToyTask(ToyTask):
    """The toy task with a loss that has no settings."""

    loss_config = NoLossOptions

    def loss(self, model, batch, options):
        return super().loss(model, batch, ToyLossConfig(noise=0.0))


@pytest.fixture(autouse=True)
def toy_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry.TASKS, "toy", ToyTask)
    monkeypatch.setitem(registry.TASKS, "quiet", QuietToyTask)
    yield
    ToyTask.losses.clear()  # the toy task records its training-mode losses


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("waveglow", FlowVocoderLossConfig(sigma=1.0)),
        ("waveflow", FlowVocoderLossConfig(sigma=1.0, stft_weight=0.0, stft_sigma=0.6)),
        ("glow", GlowLossConfig(y_weight=0.01)),
        ("distill", DistillLossConfig(sigma=1.0, power_loss_weight=1.0)),
        ("quiet", NoLossOptions()),
    ],
)
def test_each_task_parses_its_loss_section_with_defaults(task: str, expected: object) -> None:
    assert parse_config({"task": task}).loss == expected


def test_loss_values_and_overrides_are_parsed_and_saved(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("task: waveglow\nloss: {sigma: 0.9}\n")
    assert load_config(path).loss.sigma == 0.9
    config = load_config(path, ["loss.sigma=0.7"])
    assert config.loss == FlowVocoderLossConfig(sigma=0.7)
    save_config(config, tmp_path / "saved.yaml")
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())["loss"]
    assert saved == {"sigma": 0.7, "stft_weight": 0.0, "stft_sigma": 0.6}
    assert load_config(tmp_path / "saved.yaml") == config
    glow = parse_config({"task": "glow"}, ["loss.y_weight=0"])
    assert glow.loss.y_weight == 0.0 and not hasattr(glow.model, "y_weight")


@pytest.mark.parametrize(
    ("raw", "overrides", "message"),
    [
        ({"task": "waveglow", "data": {"sigma": 0.5}}, [], "data.sigma moved to loss.sigma"),
        ({"task": "waveglow"}, ["data.sigma=0.5"], "data.sigma moved to loss.sigma"),
        ({"task": "glow", "model": {"y_weight": 0.1}}, [], "model.y_weight moved to loss.y_weight"),
        ({"task": "distill", "data": {"sigma": 1}}, [], "data.sigma moved to loss.sigma"),
        (
            {"task": "distill", "data": {"power_loss_weight": 0.1}},
            [],
            "data.power_loss_weight moved to loss.power_loss_weight",
        ),
        ({"task": "waveglow"}, ["loss.sigma=0"], "loss.sigma must be positive, got 0.0"),
        ({"task": "waveglow"}, ["loss.sigma=.nan"], "loss.sigma must be positive"),
        ({"task": "glow"}, ["loss.y_weight=-1"], "loss.y_weight must be >= 0, got -1.0"),
        ({"task": "distill"}, ["loss.power_loss_weight=-1"], "loss.power_loss_weight must be >= 0"),
        ({"task": "waveglow"}, ["loss.sigm=1"], "did you mean 'loss.sigma'?"),
        ({"task": "quiet", "loss": {"noise": 0.1}}, [], "unknown key 'loss.noise'"),
        ({"task": "toy", "loss": 3}, [], "loss: expected a mapping"),
    ],
)
def test_old_and_bad_loss_keys_are_one_line_errors(
    raw: dict, overrides: list, message: str
) -> None:
    with pytest.raises(WaveflowError) as info:
        parse_config(raw, overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_loss_gets_its_options_explicitly() -> None:
    """The same task instance, batch and noise draw: only `options` changes the loss."""
    task = ToyTask()
    model = task.build_model(parse_config({"task": "toy"}).model).train()
    batch = torch.randn(8, 4) + 3.0
    with torch.enable_grad():
        torch.manual_seed(0)
        quiet = task.loss(model, batch, ToyLossConfig(noise=0.0))["loss"].item()
        torch.manual_seed(0)
        noisy = task.loss(model, batch, ToyLossConfig(noise=1.0))["loss"].item()
        torch.manual_seed(0)
        again = task.loss(model, batch, ToyLossConfig(noise=0.0))["loss"].item()
    assert quiet == again and quiet != noisy


def test_glow_y_weight_scales_the_classifier_term_without_building_state() -> None:
    torch.manual_seed(0)
    config = GlowConfig(in_channels=1, image_size=8, n_levels=2, n_steps=1, hidden_channels=8)
    config = dataclasses.replace(config, n_classes=3)
    task = GlowTask()
    model = task.build_model(config)
    assert vars(task) == {}  # building sets nothing on the task
    x, y = torch.rand(4, 1, 8, 8) - 0.5, torch.tensor([0, 1, 2, 0])
    task.initialize(model, (x, y), GlowLossConfig())
    with torch.no_grad():
        off = task.loss(model, (x, y), GlowLossConfig(y_weight=0.0))
        on = task.loss(model, (x, y), GlowLossConfig(y_weight=2.0))
    assert "class_bits" not in off and float(off["loss"]) == float(off["bits_per_dim"])
    expected = on["bits_per_dim"] + 2.0 * on["class_bits"]
    assert math.isclose(float(on["loss"]), float(expected), rel_tol=1e-6)


def test_a_glow_checkpoint_from_before_the_move_still_loads(tmp_path: Path) -> None:
    config = GlowConfig(in_channels=1, image_size=8, n_levels=2, n_steps=1, hidden_channels=8)
    model = Glow.from_config(config)
    old = {**to_dict(config), "y_weight": 0.01}  # written when y_weight was a model option
    path = tmp_path / "old.pt"
    save_checkpoint({"task": "glow", "config": {"model": old}, "model": model.state_dict()}, path)
    loaded, _ = load_model(path)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


@pytest.mark.parametrize(
    ("config", "sigma"),
    [
        ({"model": {}, "data": {"mel": {"n_mels": 40}}, "loss": {"sigma": 0.8}}, 0.8),
        ({"model": {}, "data": {"mel": {"n_mels": 40}, "sigma": 0.9, "root": "x"}}, 1.0),
        ({"model": {}}, 1.0),
    ],
    ids=["new", "old data.sigma ignored", "no data section"],
)
def test_recipe_summary_reads_the_training_sigma_from_loss(config: dict, sigma: float) -> None:
    mel, found = training_front_end_and_sigma(config)
    assert found == sigma
    assert mel.n_mels == (40 if "data" in config else 80)
