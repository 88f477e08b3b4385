"""torch.hub entry points of waveflow: the shipped default vocoder, WaveGlow from a checkpoint,
and the mel front end that goes with either. Offline from a checkout::

    import torch
    vocoder = torch.hub.load("path/to/waveflow", "waveflow_default", source="local")
    front_end = torch.hub.load("path/to/waveflow", "mel_spectrogram", source="local")
    audio = vocoder.infer(front_end(recording)[None], sigma=0.6)[0]   # 22050 Hz

    mine = torch.hub.load("path/to/waveflow", "waveglow", checkpoint="exp/best.pt", source="local")

An unknown name is an error that lists the entry points (`ENTRY_POINTS`). Models come back in
eval mode; `model.infer(mel [B, n_mels, frames], sigma)`
returns audio [B, frames * hop]. Loading errors are one-line `WaveflowError`s.
"""

from __future__ import annotations

import sys

dependencies = ["torch", "torchaudio", "numpy", "soundfile", "librosa", "yaml"]

ENTRY_POINTS = ("waveflow_default", "waveglow", "mel_spectrogram")


def waveflow_default(device: str = "cpu"):
    """The default vocoder shipped with waveflow (WaveGlow, Tacotron2 front end: 22050 Hz, hop
    256, 80 mels, 0-8000 Hz; trained on five languages of Debian's Asterisk prompts), in eval
    mode on `device`; its front end: `mel_spectrogram()`."""
    from waveflow.audio.formats.pretrained import load_default

    return load_default(device)[0]


def waveglow(checkpoint: str, device: str = "cpu", sample_rate: int | None = None):
    """A vocoder from a local checkpoint: a native waveflow one (WaveGlow or IAF student; it
    stores its front end and sample rate, and a different `sample_rate` is refused) or NVIDIA's
    published WaveGlow file (no rate stored: Tacotron2 defaults at `sample_rate`, else 22050).
    In eval mode on `device`; its front end: `mel_spectrogram(checkpoint=...)`."""
    import torch

    from waveflow.audio.formats.vocoder_file import load_vocoder

    return load_vocoder(checkpoint, torch.device(device), sample_rate)[0]


def mel_spectrogram(checkpoint: str | None = None, preset: str | None = None):
    """The log-mel front end (`waveflow.audio.data.features.MelSpectrogram`: audio [T] or [B, T] ->
    [n_mels, frames] or [B, n_mels, frames]) of a checkpoint's model, of a named preset
    (22k, 16k, 24k), or, with neither, of the default vocoder; `.config.sample_rate` is its rate."""
    from waveflow.audio.data.features import MelConfig, MelSpectrogram
    from waveflow.errors import WaveflowError

    if checkpoint is not None and preset is not None:
        raise WaveflowError("mel_spectrogram: give a checkpoint or a preset, not both")
    if checkpoint is not None:
        import torch

        from waveflow.audio.formats.vocoder_file import load_vocoder

        return MelSpectrogram(load_vocoder(checkpoint, torch.device("cpu"))[1])
    return MelSpectrogram(MelConfig.from_dict({"preset": preset or "22k"}))


def _asked_by_torch_hub() -> str | None:
    """The entry-point name `torch.hub.load` is looking up, if this lookup is one.

    torch.hub only calls `getattr` for names in `dir(hubconf)`, and otherwise raises "Cannot
    find callable NAME in hubconf" without the names there are; listing the asked name in
    `__dir__` routes an unknown one to `__getattr__`, whose error lists them."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_load_entry_from_hubconf":
            name = frame.f_locals.get("model")
            return name if isinstance(name, str) else None
        frame = frame.f_back
    return None


def __dir__() -> list[str]:
    names = [*ENTRY_POINTS, "dependencies"]
    asked = _asked_by_torch_hub()
    return names + [asked] if asked and asked not in names else names


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"waveflow's hubconf has no entry point {name!r}; available: {', '.join(ENTRY_POINTS)}"
    )
