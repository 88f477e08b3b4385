"""Image flows (Glow, NICE, RealNVP): the models, image data, sampling and latent manipulation."""

from waveflow.image.glow import Glow, GlowConfig

__all__ = ["Glow", "GlowConfig"]
