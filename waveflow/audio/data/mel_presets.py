"""Named mel front-end presets: the settings other toolkits use at 22.05, 16 and 24 kHz.

A preset is a complete set of `MelConfig` values (sample rate, STFT sizes, mel bands); a config
selects one with ``data: {mel: {preset: 16k}}`` and may override any of its keys next to it
(``{preset: 16k, fmax: 8000}``). `waveflow mel --preset NAME` does the same on the command line.

- ``22k``: Tacotron2 / NVIDIA WaveGlow (the default front end): 22050 Hz, n_fft 1024, hop 256,
  window 1024, 80 mels, 0-8000 Hz.
- ``16k``: ESPnet2's TTS front end (``espnet2/tts/feats_extract/log_mel_fbank.py`` defaults,
  ``egs2/*/tts1`` at ``fs=16000``): n_fft 1024, hop 256, window = n_fft, 80 mels, 80-7600 Hz.
- ``24k``: ESPnet2's LibriTTS recipe (``egs2/libritts/tts1/run.sh``, also ParallelWaveGAN's
  ``egs/libritts``): 24000 Hz, n_fft 2048, hop 300, window 1200, 80 mels, 80-7600 Hz.

Only the STFT and filterbank settings are shared with those toolkits: the log stays waveflow's
natural log of the magnitude floored at 1e-5 (Tacotron2's), so their features are not
interchangeable with these without a rescale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waveflow.errors import WaveflowError

#: preset name -> MelConfig keyword values (every field but log_floor).
MEL_PRESETS: dict[str, dict[str, Any]] = {
    "22k": {
        "sample_rate": 22050,
        "n_fft": 1024,
        "hop_length": 256,
        "win_length": 1024,
        "n_mels": 80,
        "fmin": 0.0,
        "fmax": 8000.0,
    },
    "16k": {
        "sample_rate": 16000,
        "n_fft": 1024,
        "hop_length": 256,
        "win_length": 1024,
        "n_mels": 80,
        "fmin": 80.0,
        "fmax": 7600.0,
    },
    "24k": {
        "sample_rate": 24000,
        "n_fft": 2048,
        "hop_length": 300,
        "win_length": 1200,
        "n_mels": 80,
        "fmin": 80.0,
        "fmax": 7600.0,
    },
}


def preset_values(name: str, where: str = "preset") -> dict[str, Any]:
    """The MelConfig values of preset `name`; an unknown name is a one-line `WaveflowError`
    that lists the available ones (`where` names the option or config key)."""
    if not isinstance(name, str) or name not in MEL_PRESETS:
        raise WaveflowError(
            f"{where}: unknown mel preset {name!r}; available: {', '.join(MEL_PRESETS)}"
        )
    return dict(MEL_PRESETS[name])


def expand_preset(values: Mapping[str, Any], prefix: str = "mel") -> dict[str, Any]:
    """`values` with a ``preset`` key replaced by the preset's values; the other keys of
    `values` override the preset's. A mapping without ``preset`` is returned as a copy."""
    values = dict(values)
    if "preset" not in values:
        return values
    name = values.pop("preset")
    return {**preset_values(name, f"{prefix}.preset"), **values}
