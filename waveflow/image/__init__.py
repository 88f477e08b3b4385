"""Image flows (Glow, NICE, RealNVP): the models, image data, sampling and latent manipulation."""

from waveflow.image.glow import Glow, GlowConfig

IMAGE_TASKS = ("glow", "nice", "realnvp")  # registry names of the image flows

__all__ = ["IMAGE_TASKS", "Glow", "GlowConfig"]
