"""Glow on images: the model, image data, sampling and latent manipulation."""

from waveflow.image.glow import Glow, GlowConfig

__all__ = ["Glow", "GlowConfig"]
