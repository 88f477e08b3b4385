"""waveflow: normalizing flows for audio (WaveGlow) and images (Glow) from one bijector core."""

__version__ = "0.1.0"
