"""Deprecated import path of `waveflow.audio.formats.pretrained` (the layout before the audio
package had rooms), kept for scripts written against it, such as the shared GPU comparison kit.
New code imports from `waveflow.audio.formats.pretrained`."""

import warnings

from waveflow.audio.formats.pretrained import load_default

__all__ = ["load_default"]

warnings.warn(
    "waveflow.audio.pretrained moved to waveflow.audio.formats.pretrained",
    DeprecationWarning,
    stacklevel=2,
)
