"""Griffin-Lim baseline vocoder: log-mel spectrogram -> waveform, no training needed.

The log-mel must come from `waveflow.audio.data.features.MelSpectrogram` with the same `MelConfig`.
Inversion: exp (undo the natural log; floored bins stay at `log_floor`), non-negative least
squares through the same librosa Slaney mel filterbank (mel -> linear STFT magnitude), then
torchaudio's Griffin-Lim phase reconstruction (power 1, momentum 0.99) with the front end's
n_fft, hop, periodic Hann window of win_length and centred frames.
"""

from __future__ import annotations

import torch

from waveflow.audio.data.features import MelConfig, MelSpectrogram
from waveflow.errors import WaveflowError


def mel_to_linear_magnitude(mel: torch.Tensor, config: MelConfig) -> torch.Tensor:
    """Log-mel [n_mels, F] -> non-negative linear STFT magnitude [n_fft // 2 + 1, F] (float64).

    Solves min ||M s - exp(mel)|| subject to s >= 0 per frame (librosa's NNLS), with M the
    front end's mel filterbank [n_mels, n_fft // 2 + 1].
    """
    import librosa

    filterbank = MelSpectrogram(config).filterbank.double().numpy()
    mel_magnitude = torch.exp(mel.detach().double().cpu()).numpy()
    linear = librosa.util.nnls(filterbank, mel_magnitude)
    return torch.from_numpy(linear).clamp(min=0.0)


def griffin_lim(
    mel: torch.Tensor, config: MelConfig | None = None, n_iter: int = 60, seed: int = 0
) -> torch.Tensor:
    """Waveform float32 [F * hop_length] from a natural-log mel spectrogram [n_mels, F].

    `seed` fixes the random initial phase, so equal inputs give equal outputs. Griffin-Lim
    yields the (F - 1) * hop_length samples that the centred frames span; one hop of zeros is
    appended to return exactly F * hop_length samples (a clip of T samples has
    F = 1 + T // hop_length frames, so the output covers it). Raises `WaveflowError` for a
    mel of the wrong shape or with NaN/inf values.
    """
    import torchaudio

    config = config or MelConfig()
    if not isinstance(mel, torch.Tensor) or mel.dim() != 2 or mel.shape[0] != config.n_mels:
        shape = tuple(mel.shape) if isinstance(mel, torch.Tensor) else type(mel).__name__
        raise WaveflowError(
            f"griffin-lim: mel must be a tensor [n_mels={config.n_mels}, frames], got {shape}"
        )
    if mel.shape[1] == 0:
        raise WaveflowError("griffin-lim: mel has no frames")
    if not torch.isfinite(mel).all():
        raise WaveflowError("griffin-lim: mel contains NaN or infinite values")
    if n_iter < 1:
        raise WaveflowError(f"griffin-lim: n_iter must be at least 1, got {n_iter}")
    num_samples = mel.shape[1] * config.hop_length
    magnitude = mel_to_linear_magnitude(mel, config).float()
    reconstruct = torchaudio.transforms.GriffinLim(
        n_fft=config.n_fft,
        n_iter=n_iter,
        win_length=config.win_length,
        hop_length=config.hop_length,
        window_fn=torch.hann_window,
        power=1.0,
        length=num_samples - config.hop_length,
    )
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        audio = reconstruct(magnitude)
    return torch.nn.functional.pad(audio, (0, config.hop_length))
