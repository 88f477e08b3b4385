"""WaveGlowTask: datasets from an LJSpeech-layout corpus, a fp32 NLL loss that training
lowers, and TensorBoard media."""

from __future__ import annotations

import pytest
import torch

from waveflow.audio.data.features import MelConfig
from waveflow.audio.models.waveglow import WaveGlowConfig
from waveflow.audio.tasks.vocoder import FlowVocoderLossConfig, VocoderDataConfig, WaveGlowTask
from waveflow.errors import WaveflowError
from waveflow.task import get_task

N_MELS = 20
TINY_MODEL = WaveGlowConfig(
    n_mel_channels=N_MELS, n_flows=4, n_group=8, n_early_every=2, n_early_size=2, n_layers=2,
    n_channels=8,
)  # fmt: skip


def data_config(root, n_valid: int = 1, **mel_overrides) -> VocoderDataConfig:
    mel = MelConfig(**{"n_mels": N_MELS, **mel_overrides})
    return VocoderDataConfig(
        root=str(root), n_valid=n_valid, n_test=1, segment_length=1024, mel=mel
    )


class RecordingWriter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple]] = []

    def add_audio(self, tag, audio, step, sample_rate):
        self.calls.append(("audio", tag, tuple(audio.shape)))
        assert sample_rate == 22050 and torch.isfinite(audio).all()

    def add_image(self, tag, image, step):
        self.calls.append(("image", tag, tuple(image.shape)))
        assert 0 <= float(image.min()) and float(image.max()) <= 1


def test_training_steps_lower_the_nll(tiny_ljspeech):
    task = get_task("waveglow")
    assert isinstance(task, WaveGlowTask)
    torch.manual_seed(0)
    model = task.build_model(TINY_MODEL)
    train, valid = task.build_datasets(data_config(tiny_ljspeech), TINY_MODEL)
    assert len(train) == 4 and len(valid) == 1
    batch = next(iter(torch.utils.data.DataLoader(train, batch_size=2)))
    assert batch[0].shape == (2, 1024) and batch[1].shape == (2, N_MELS, 5)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    with torch.no_grad():
        before = task.loss(model, batch, FlowVocoderLossConfig())
    assert before["loss"].dtype == torch.float32 and before["loss"].dim() == 0
    torch.testing.assert_close(
        before["bits_per_sample"], before["loss"] / torch.log(torch.tensor(2.0))
    )
    for _ in range(10):
        optimizer.zero_grad()
        task.loss(model, batch, FlowVocoderLossConfig())["loss"].backward()
        optimizer.step()
    with torch.no_grad():
        after = task.loss(model, batch, FlowVocoderLossConfig())
    assert after["loss"] < before["loss"] - 0.05


def test_log_media_writes_audio_and_mel_images(tiny_ljspeech):
    task = WaveGlowTask()
    torch.manual_seed(0)
    model = task.build_model(TINY_MODEL).eval()
    _, valid = task.build_datasets(data_config(tiny_ljspeech, n_valid=2), TINY_MODEL)
    writer = RecordingWriter()
    with torch.no_grad():
        task.log_media(model, writer, step=10, valid_set=valid)
    kinds = [(kind, tag) for kind, tag, _ in writer.calls]
    assert ("audio", "valid/0/generated") in kinds and (
        "image",
        "valid/1/mel_real_vs_generated",
    ) in kinds
    images = [shape for kind, _, shape in writer.calls if kind == "image"]
    assert images[0] == (1, 2 * N_MELS + 1, 5)


def test_inconsistent_configs_are_rejected(tiny_ljspeech):
    task = WaveGlowTask()
    with pytest.raises(WaveflowError, match="n_mels"):
        task.build_datasets(data_config(tiny_ljspeech, n_mels=64), TINY_MODEL)
    with pytest.raises(WaveflowError, match="hop_length"):
        task.build_datasets(data_config(tiny_ljspeech, hop_length=128), TINY_MODEL)
