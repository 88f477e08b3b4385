"""Model configurations the benchmarks run: named presets or a YAML file, checked up front.

WaveGlow presets (plain dicts of :class:`waveflow.audio.models.waveglow.WaveGlowConfig` fields):

* ``published``: NVIDIA's published model (12 flows, 8 layers, 256 channels, groups of 8);
* ``small``: a CPU-sized model (8 flows, 4 layers, 64 channels), this tool's own choice;
* ``tiny``: the ``--quick`` model (2 flows, 2 layers, 8 channels), for tests of the tool;
* ``light``, ``fast``: the ``model:`` sections of the LJSpeech recipe's ``conf/light.yaml``
  (fast synthesis) and ``conf/fast.yaml`` (the ``make demo`` model).

A YAML file may be an experiment config (its ``model:`` section is used; ``task`` must be
``waveglow`` when present) or a bare mapping of WaveGlowConfig fields.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from waveflow.errors import WaveflowError

WAVEGLOW_PRESETS: dict[str, dict[str, Any]] = {
    "published": {},
    "small": {"n_flows": 8, "n_layers": 4, "n_channels": 64},
    "tiny": {"n_flows": 2, "n_early_every": 4, "n_layers": 2, "n_channels": 8},
}
RECIPE_CONF = Path(__file__).resolve().parents[2] / "recipes" / "ljspeech" / "conf"
RECIPE_PRESETS = {"light": RECIPE_CONF / "light.yaml", "fast": RECIPE_CONF / "fast.yaml"}


def waveglow_config(name_or_path: str) -> dict[str, Any]:
    """The full WaveGlowConfig (as a dict) of a preset name or a YAML file, validated."""
    from waveflow.audio.models.waveglow import WaveGlowConfig
    from waveflow.dataclass_dict import from_dict

    if name_or_path in WAVEGLOW_PRESETS:
        section: Any = WAVEGLOW_PRESETS[name_or_path]
        where = f"preset {name_or_path!r}"
    elif name_or_path in RECIPE_PRESETS:
        section = _model_section(RECIPE_PRESETS[name_or_path])
        where = f"preset {name_or_path!r} ({RECIPE_PRESETS[name_or_path]})"
    else:
        section = _model_section(Path(name_or_path))
        where = name_or_path
    try:
        config = from_dict(WaveGlowConfig, section, "model")
    except WaveflowError as err:
        raise WaveflowError(f"{where}: {err}") from err
    return dataclasses.asdict(config)


def _model_section(path: Path) -> Any:
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise WaveflowError(
            f"--config must be one of {sorted([*WAVEGLOW_PRESETS, *RECIPE_PRESETS])} or a "
            f".yaml file, got {str(path)!r}"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise WaveflowError(f"config file not found: {path}") from err
    except yaml.YAMLError as err:
        raise WaveflowError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from err
    if not isinstance(data, dict):
        raise WaveflowError(f"{path}: expected a mapping, got {type(data).__name__}")
    if "model" not in data:
        return data
    task = data.get("task", "waveglow")
    if task != "waveglow":
        raise WaveflowError(f"{path}: task is {task!r}, the synth/train benchmarks need waveglow")
    return data["model"] or {}


def glow_config(
    in_channels: int, image_size: int, n_levels: int, n_steps: int, hidden_channels: int
) -> dict[str, Any]:
    """A validated GlowConfig (as a dict) from the ``glow`` command's flags; paper defaults."""
    from waveflow.image.glow import GlowConfig

    config = GlowConfig(
        in_channels=in_channels,
        image_size=image_size,
        n_levels=n_levels,
        n_steps=n_steps,
        hidden_channels=hidden_channels,
    )
    return dataclasses.asdict(config)
