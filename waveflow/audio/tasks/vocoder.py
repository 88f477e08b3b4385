"""The WaveGlow training task for the engine (`task: waveglow`).

YAML:

    task: waveglow
    model: {n_channels: 256, ...}           # WaveGlowConfig
    data:  {root: LJSpeech-1.1, n_valid: 100, n_test: 100, segment_length: 16000, ...}
    loss:  {sigma: 1.0, stft_weight: 0.0}   # FlowVocoderLossConfig

The loss is the exact negative log-likelihood in nats per audio sample (fp32); the metrics
add bits per sample and NVIDIA's loss (which lacks the Gaussian normaliser) for comparison.
``loss.stft_weight > 0`` adds the multi-resolution STFT loss of samples drawn at
``loss.stft_sigma`` (:mod:`waveflow.audio.tasks.stft_loss`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from waveflow.audio.data.features import MelConfig
from waveflow.audio.models.waveglow import WaveGlow, WaveGlowConfig, likelihood_metrics
from waveflow.errors import WaveflowError
from waveflow.task import Task

MEDIA_CLIPS = 2
MEDIA_SIGMA = 0.6
#: WaveGlow config fields that an NVIDIA file's tensor shapes do not determine.
NVIDIA_UNSEEN_FIELDS = ("hop_length", "alternate_coupling", "lapped")


@dataclass
class VocoderDataConfig:
    """An LJSpeech-layout corpus, its split, the mel front end and the training crops.

    The split is ``split_ljspeech(n_valid, n_test, split_seed)`` unless ``train_files`` and
    ``valid_files`` (Tacotron2-style file lists or one id per line) are given. ``mel`` is the
    front end, a :class:`~waveflow.audio.data.features.MelConfig` (Tacotron2 defaults; YAML
    ``data: {mel: {n_fft: 1024, ...}}``).
    ``segment_length`` must be a multiple of ``n_group`` (the published 16000 with hop 256: the
    crop's mel covers slightly more and the model trims it).
    """

    root: str = "data/demo-ljspeech"
    mel: MelConfig = field(default_factory=MelConfig)
    segment_length: int = 16000
    n_valid: int = 10
    n_test: int = 10
    split_seed: int = 1234
    train_files: str | None = None
    valid_files: str | None = None
    test_files: str | None = None
    cache_dir: str | None = None


@dataclass
class VocoderLossConfig:
    """The ``loss:`` section of the vocoder: ``sigma`` is the training prior's standard deviation
    (the latent is scored under ``N(0, sigma^2)``)."""

    sigma: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.sigma) or self.sigma <= 0:
            raise WaveflowError(f"loss.sigma must be positive, got {self.sigma}")


@dataclass
class FlowVocoderLossConfig(VocoderLossConfig):
    """The vocoder loss plus the auxiliary synthesis-path loss
    (:mod:`waveflow.audio.tasks.stft_loss`): ``stft_weight`` (0: likelihood only) times the
    multi-resolution STFT loss of samples drawn at temperature ``stft_sigma``."""

    stft_weight: float = 0.0
    stft_sigma: float = 0.6

    def __post_init__(self) -> None:
        super().__post_init__()
        if not math.isfinite(self.stft_weight) or self.stft_weight < 0:
            raise WaveflowError(f"loss.stft_weight must be >= 0, got {self.stft_weight}")
        if not math.isfinite(self.stft_sigma) or self.stft_sigma < 0:
            raise WaveflowError(f"loss.stft_sigma must be >= 0, got {self.stft_sigma}")


class WaveGlowTask(Task):
    """WaveGlow as the engine sees it; batches are ``(audio [B, L], mel [B, n_mels, F])``."""

    name = "waveglow"
    model_config = WaveGlowConfig
    data_config = VocoderDataConfig
    loss_config = FlowVocoderLossConfig
    moved_keys = {"data.sigma": "loss.sigma"}

    def build_model(self, model_cfg: WaveGlowConfig) -> WaveGlow:
        return WaveGlow.from_config(model_cfg)

    def size_floor(self, model_cfg: WaveGlowConfig) -> tuple[int, int]:
        """At least one 1x1 conv (>= 2x2) per flow and one WaveNet of ``n_layers`` dilated
        convs of ``2 n_channels x n_channels x kernel_size`` (a bound that holds even if
        WaveNets were shared between flows)."""
        cfg = model_cfg
        tensors = cfg.n_flows + cfg.n_layers
        values = 4 * cfg.n_flows + 2 * cfg.n_layers * cfg.n_channels**2 * cfg.kernel_size
        return tensors, values

    def build_datasets(
        self, data_cfg: VocoderDataConfig, model_cfg: WaveGlowConfig
    ) -> tuple[Dataset, Dataset]:
        from waveflow.audio.data.corpus import (
            AudioSegmentDataset,
            read_file_list,
            read_ljspeech_metadata,
            select_utterances,
            split_ljspeech,
        )

        if data_cfg.mel.n_mels != model_cfg.n_mel_channels:
            raise WaveflowError(
                f"data.mel.n_mels ({data_cfg.mel.n_mels}) != model.n_mel_channels "
                f"({model_cfg.n_mel_channels})"
            )
        if data_cfg.mel.hop_length != model_cfg.hop_length:
            raise WaveflowError(
                f"data.mel.hop_length ({data_cfg.mel.hop_length}) != model.hop_length "
                f"({model_cfg.hop_length})"
            )
        group = getattr(model_cfg, "n_group", 1)  # an IAF student (task: distill) has none
        if data_cfg.segment_length <= 0 or data_cfg.segment_length % group:
            raise WaveflowError(
                f"data.segment_length ({data_cfg.segment_length}) must be a positive multiple of "
                f"model.n_group ({group}), e.g. "
                f"{max(1, round(data_cfg.segment_length / group)) * group}"
            )
        utterances = read_ljspeech_metadata(data_cfg.root)
        if (data_cfg.train_files is None) != (data_cfg.valid_files is None):
            raise WaveflowError("data.train_files and data.valid_files must be given together")
        if data_cfg.train_files is not None:
            train = select_utterances(utterances, read_file_list(data_cfg.train_files))
            valid = select_utterances(utterances, read_file_list(data_cfg.valid_files))
        else:
            split = split_ljspeech(
                utterances, data_cfg.n_valid, data_cfg.n_test, data_cfg.split_seed
            )
            train, valid = split.train, split.valid
        if not valid:
            raise WaveflowError("the validation set is empty (set data.n_valid >= 1)")
        mel_config = data_cfg.mel

        def dataset(part: list, training: bool) -> AudioSegmentDataset:
            return AudioSegmentDataset(
                [u.path for u in part],
                mel_config,
                data_cfg.segment_length,
                train=training,
                seed=data_cfg.split_seed,
                cache_dir=Path(data_cfg.cache_dir) if data_cfg.cache_dir else None,
            )

        return dataset(train, True), dataset(valid, False)

    def load_foreign_weights(
        self, model: torch.nn.Module, model_cfg: WaveGlowConfig, path: str, error: WaveflowError
    ) -> None:
        """`train.init_from` that is not a native checkpoint: one of NVIDIA's published files
        (any layout that ``waveflow.audio.formats.nvidia.load_nvidia_waveglow`` reads).

        It must match the configured model in every parameter shape and, as its config is
        inferred from shapes, in the fields that no shape shows: ``NVIDIA_UNSEEN_FIELDS``.
        """
        from waveflow.audio.formats.nvidia import load_nvidia_waveglow
        from waveflow.checkpoint import check_same_config, check_state_fits, load_state

        try:
            nvidia = load_nvidia_waveglow(path)
        except WaveflowError as err:
            raise WaveflowError(f"train.init_from: {err}") from err
        state = nvidia.state_dict()
        check_state_fits(model, state, path)
        check_same_config(nvidia.config, model_cfg, path, NVIDIA_UNSEEN_FIELDS)
        load_state(model, state, path)

    def loss(
        self, model: torch.nn.Module, batch: Any, options: FlowVocoderLossConfig
    ) -> dict[str, torch.Tensor]:
        audio, mel = batch
        z, logdet = model(audio, mel)
        metrics = likelihood_metrics(z.float(), logdet.float(), options.sigma)
        out = {
            "loss": metrics["nats_per_sample"],
            "bits_per_sample": metrics["bits_per_sample"],
            "nvidia_loss": metrics["nvidia_loss"],
        }
        if options.stft_weight > 0:
            from waveflow.audio.tasks.stft_loss import synthesis_stft_loss

            stft = synthesis_stft_loss(model, audio, mel, options.stft_sigma)
            out["nll"] = out["loss"]
            out["stft_loss"] = stft
            out["loss"] = out["loss"] + options.stft_weight * stft
        return out

    def log_media(self, model: torch.nn.Module, writer: Any, step: int, valid_set: Dataset) -> None:
        """Two fixed validation clips at sigma 0.6: audio (real, generated) and mel images."""
        from waveflow.audio.data.features import MelSpectrogram

        front_end = getattr(valid_set, "mel", None) or MelSpectrogram(MelConfig())
        rate = front_end.config.sample_rate
        floor = math.log(front_end.config.log_floor)
        device = next(model.parameters()).device
        for i in range(min(MEDIA_CLIPS, len(valid_set))):
            audio, mel = valid_set[i]
            generator = torch.Generator(device=device).manual_seed(i)
            fake = model.infer(mel[None].to(device), sigma=MEDIA_SIGMA, generator=generator)
            fake = fake[0].float().clamp(-1.0, 1.0).cpu()
            fake_mel = front_end(fake)[:, : mel.shape[1]]
            writer.add_audio(f"valid/{i}/real", audio[None], step, sample_rate=rate)
            writer.add_audio(f"valid/{i}/generated", fake[None], step, sample_rate=rate)
            writer.add_image(
                f"valid/{i}/mel_real_vs_generated", mel_image(mel, fake_mel, floor), step
            )


def mel_image(real: torch.Tensor, generated: torch.Tensor, floor: float) -> torch.Tensor:
    """``[1, 2 n_mels + 1, F]`` image in [0, 1]: real on top, generated below, low bins down."""
    stacked = torch.cat([generated, torch.full_like(real[:1], floor), real], dim=0).flip(0)
    top = float(stacked.max())
    return ((stacked - floor) / max(top - floor, 1e-6)).clamp(0, 1)[None]
