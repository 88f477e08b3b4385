"""Deprecated import path of `waveflow.audio.models.waveglow` (the layout before the audio
package had rooms), kept for scripts written against it, such as the shared GPU comparison kit.
New code imports from `waveflow.audio.models.waveglow`."""

import warnings

from waveflow.audio.models.waveglow import WaveGlow, WaveGlowConfig

__all__ = ["WaveGlow", "WaveGlowConfig"]

warnings.warn(
    "waveflow.audio.waveglow moved to waveflow.audio.models.waveglow",
    DeprecationWarning,
    stacklevel=2,
)
