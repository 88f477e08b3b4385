"""Probability density distillation of a WaveGlow teacher into an IAF student (`task: distill`).

YAML (the data section is the vocoder's plus the teacher; the loss section is the vocoder's
plus the power-loss weight):

    task: distill
    model: {n_flows: 4, n_layers: 8, n_channels: 64, ...}        # IAFStudentConfig
    data:  {root: ..., mel: {...}, segment_length: 4096, teacher: exp/demo/best.pt}
    loss:  {sigma: 1.0, power_loss_weight: 1.0}                   # DistillLossConfig

Per batch of real crops ``(audio [B, L], mel [B, M, F])``, as in Parallel WaveNet:

* draw ``z ~ N(0, sigma^2)`` ``[B, L]`` and run the student's PARALLEL pass:
  ``x, logdet = student(z, mel, reverse=True)``; ``log q(x) = log N(z) - logdet`` (exact);
* score ``x`` with the frozen teacher's exact log-likelihood ``log p(x | mel)``
  (:meth:`WaveGlow.log_prob`, prior ``N(0, sigma^2)``): gradients flow through the teacher's
  forward into ``x``, never into the teacher's weights;
* ``kl = mean(log q(x) - log p(x | mel)) / L``: a single-sample estimate of
  KL(student || teacher) in nats per audio sample (= cross-entropy - entropy; both logged);
* ``power``: Parallel WaveNet's power loss, the squared distance between the time-averaged
  STFT power spectra of ``x`` and of the real crop ``audio`` (STFT of the mel front end), taken
  between log powers here (the linear powers of speech span orders of magnitude);
* ``loss = kl + power_loss_weight * power``.

The teacher (a native ``task: waveglow`` checkpoint or an NVIDIA one) must have been trained on
the same mel front end as ``data.mel``; any difference is a one-line error naming the option.
The checkpoint of the student is an ordinary ``task: distill`` checkpoint: ``waveflow
synthesize --checkpoint`` loads it through
:func:`~waveflow.audio.formats.vocoder_file.load_vocoder`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from waveflow.audio.data.features import MelConfig
from waveflow.audio.models.student import IAFStudent, IAFStudentConfig
from waveflow.audio.models.waveglow import WaveGlow
from waveflow.audio.tasks.vocoder import VocoderDataConfig, VocoderLossConfig, WaveGlowTask
from waveflow.bijectors import Gaussian
from waveflow.errors import WaveflowError

POWER_FLOOR = 1e-7
METRICS = ("kl", "student_entropy", "teacher_cross_entropy", "power_loss")


@dataclass
class DistillDataConfig(VocoderDataConfig):
    """The vocoder data (:class:`VocoderDataConfig`) plus ``teacher``: a WaveGlow checkpoint
    (native or NVIDIA) trained on the same ``mel`` front end."""

    teacher: str = ""


@dataclass
class DistillLossConfig(VocoderLossConfig):
    """``sigma``: the std of the student's latent and of the teacher's prior (the teacher's
    training ``loss.sigma``, 1.0 for WaveGlow); ``power_loss_weight``: weight of the power loss.
    """

    power_loss_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not math.isfinite(self.power_loss_weight) or self.power_loss_weight < 0:
            raise WaveflowError(
                f"loss.power_loss_weight must be >= 0, got {self.power_loss_weight}"
            )


def load_teacher(data_cfg: DistillDataConfig) -> WaveGlow:
    """The frozen teacher in eval mode (weight norm folded) after checking its front end."""
    from waveflow.audio.formats.vocoder_file import load_vocoder

    path = Path(data_cfg.teacher)
    if not data_cfg.teacher:
        raise WaveflowError(
            "data.teacher: name the teacher checkpoint (a WaveGlow, native or NVIDIA)"
        )
    if not path.is_file():
        raise WaveflowError(f"data.teacher: checkpoint not found: {path}")
    teacher, teacher_mel = load_vocoder(path, torch.device("cpu"))
    if not isinstance(teacher, WaveGlow):
        raise WaveflowError(
            f"data.teacher: {path} holds an IAF student; the teacher must be a WaveGlow"
        )
    check_same_front_end(data_cfg.mel, teacher_mel, path)
    if data_cfg.segment_length % teacher.config.n_group:
        raise WaveflowError(
            f"data.segment_length ({data_cfg.segment_length}) must be a multiple of the "
            f"teacher's n_group ({teacher.config.n_group})"
        )
    teacher.remove_weight_norm().requires_grad_(False)
    return teacher


def check_same_front_end(student: MelConfig, teacher: MelConfig, path: Path) -> None:
    """One-line WaveflowError naming the first ``data.mel`` option that differs from the
    teacher's front end."""
    for field in dataclasses.fields(MelConfig):
        ours, theirs = getattr(student, field.name), getattr(teacher, field.name)
        if ours != theirs:
            raise WaveflowError(
                f"data.mel.{field.name} is {ours!r} but the teacher {path} was trained with "
                f"{theirs!r}: the student must use its teacher's mel front end"
            )


def power_loss(generated: Tensor, real: Tensor, mel: MelConfig) -> Tensor:
    """Mean squared distance between the log time-averaged STFT powers ``[B, n_fft/2+1]`` of
    ``generated`` and ``real`` (``[B, L]`` each), with the STFT settings of ``mel``."""
    window = torch.hann_window(mel.win_length, device=real.device, dtype=torch.float32)

    def mean_power(audio: Tensor) -> Tensor:
        spec = torch.stft(
            audio.float(),
            mel.n_fft,
            mel.hop_length,
            mel.win_length,
            window,
            center=False,
            return_complex=True,
        )
        return spec.abs().pow(2).mean(dim=-1)

    gap = torch.log(mean_power(generated) + POWER_FLOOR) - torch.log(mean_power(real) + POWER_FLOOR)
    return gap.pow(2).mean()


class DistillTask(WaveGlowTask):
    """The IAF student as the engine sees it; data, media and checks are WaveGlow's.

    ``build_datasets`` loads the frozen teacher (and its mel front end, for the power loss),
    which the loss scores against; the loss's settings come in ``options``.
    """

    name = "distill"
    model_config = IAFStudentConfig
    data_config = DistillDataConfig
    loss_config = DistillLossConfig
    moved_keys = {**WaveGlowTask.moved_keys, "data.power_loss_weight": "loss.power_loss_weight"}

    def __init__(self) -> None:
        self.teacher: WaveGlow | None = None
        self.mel_config = MelConfig()

    def build_model(self, model_cfg: IAFStudentConfig) -> IAFStudent:
        return IAFStudent(model_cfg)

    def build_datasets(
        self, data_cfg: DistillDataConfig, model_cfg: IAFStudentConfig
    ) -> tuple[Dataset, Dataset]:
        self.teacher = load_teacher(data_cfg)
        if data_cfg.segment_length < data_cfg.mel.n_fft:
            raise WaveflowError(
                f"data.segment_length ({data_cfg.segment_length}) must be >= data.mel.n_fft "
                f"({data_cfg.mel.n_fft}) for the power loss's STFT"
            )
        self.mel_config = data_cfg.mel
        return super().build_datasets(data_cfg, model_cfg)

    def loss(
        self, model: torch.nn.Module, batch: Any, options: DistillLossConfig
    ) -> dict[str, Tensor]:
        if self.teacher is None:
            raise WaveflowError("task distill: build_datasets() loads the teacher before loss()")
        audio, mel = batch
        teacher = self.teacher.to(audio.device)
        prior = Gaussian(options.sigma)
        z = prior.sample(audio.shape, device=audio.device)
        x, logdet = model(z, mel, reverse=True)
        if not torch.isfinite(x).all():  # the engine's NaN guard skips the step
            nan = x.float().sum() * math.nan
            return {"loss": nan, **dict.fromkeys(METRICS, nan)}
        length = audio.shape[1]
        log_q = prior.log_prob(z) - logdet.float()
        log_p = teacher.log_prob(x.float(), mel, options.sigma).float()
        kl = (log_q - log_p).mean() / length
        power = power_loss(x, audio, self.mel_config)
        return {
            "loss": kl + options.power_loss_weight * power,
            "kl": kl,
            "student_entropy": -log_q.mean() / length,
            "teacher_cross_entropy": -log_p.mean() / length,
            "power_loss": power,
        }
