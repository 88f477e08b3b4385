"""The auxiliary multi-resolution STFT loss of a flow vocoder's synthesis path.

A flow trained by likelihood alone spends its capacity on every detail of the density; what a
listener hears is its samples at the synthesis temperature. ``loss.stft_weight > 0`` (task
``waveglow`` or ``waveflow``) adds, per batch of real crops ``(audio [B, L], mel)``:

* ``z ~ N(0, stft_sigma^2)`` ``[B, L]`` and ``fake = model.inverse(z, mel)`` (gradients flow
  through the inverse pass into every network);
* ``stft_loss = mean over resolutions of (spectral convergence + log-magnitude L1)`` between
  ``fake`` and ``audio``, the Parallel WaveGAN resolutions
  (:data:`~waveflow.audio.metrics.spectral.PARALLEL_WAVEGAN_RESOLUTIONS`), as used to train
  distilled students (ClariNet, Parallel WaveGAN);

and minimises ``nll + stft_weight * stft_loss``. The flow itself is unchanged (still exact);
only what training asks of it changes. Magnitudes only: the sample's phase is free.
"""

from __future__ import annotations

import torch
from torch import Tensor

from waveflow.audio.metrics.spectral import PARALLEL_WAVEGAN_RESOLUTIONS, stft_magnitude


def multi_resolution_stft_loss(fake: Tensor, real: Tensor) -> Tensor:
    """Mean over the resolutions of spectral convergence + log-magnitude L1, ``[B, L]`` each
    (batch-wide norms and means); a differentiable 0-dim tensor."""
    total = fake.new_zeros(())
    for resolution in PARALLEL_WAVEGAN_RESOLUTIONS:
        mag_fake = stft_magnitude(fake, resolution)
        mag_real = stft_magnitude(real, resolution)
        convergence = torch.linalg.vector_norm(mag_real - mag_fake) / torch.linalg.vector_norm(
            mag_real
        )
        total = total + convergence + (mag_real.log() - mag_fake.log()).abs().mean()
    return total / len(PARALLEL_WAVEGAN_RESOLUTIONS)


def synthesis_stft_loss(model: torch.nn.Module, audio: Tensor, mel: Tensor, sigma: float) -> Tensor:
    """:func:`multi_resolution_stft_loss` of ``model.inverse(sigma * N(0, 1), mel)`` against the
    real ``audio [B, L]`` (``model`` may be wrapped in DistributedDataParallel)."""
    inner = getattr(model, "module", model)
    z = torch.randn_like(audio) * sigma
    fake = inner.inverse(z, mel)[0]
    return multi_resolution_stft_loss(fake.float(), audio.float())
