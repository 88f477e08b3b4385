"""The held-out utterances every run is scored on, and their log-mels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from waveflow.errors import WaveflowError


@dataclass
class TestSet:
    """Test recordings ([T] float32 at `mel_config.sample_rate`) and their log-mels; `sigma` is
    the training prior's std (the config's `loss.sigma`) under which the NLL is scored."""

    files: list[Path]
    audio: list[torch.Tensor]
    mels: list[torch.Tensor]
    mel_config: Any
    sigma: float

    @property
    def ids(self) -> list[str]:
        return [file.stem for file in self.files]


def test_files(data_cfg: Any) -> list[Path]:
    """The test split of a vocoder data config: `test_files`, else `split_ljspeech(...).test`."""
    from waveflow.audio.data.corpus import (
        read_file_list,
        read_ljspeech_metadata,
        select_utterances,
        split_ljspeech,
    )

    utterances = read_ljspeech_metadata(data_cfg.root)
    if data_cfg.test_files is not None:
        test = select_utterances(utterances, read_file_list(data_cfg.test_files))
    else:
        test = split_ljspeech(
            utterances, data_cfg.n_valid, data_cfg.n_test, data_cfg.split_seed
        ).test
    if not test:
        raise WaveflowError(f"{data_cfg.root}: the test split is empty (set data.n_test >= 1)")
    return [utterance.path for utterance in test]


def load_test_set(data_cfg: Any, sigma: float, limit: int | None) -> TestSet:
    """The first `limit` (None: all) test utterances of `data_cfg`, read and featurised."""
    from waveflow.audio.data.features import MelSpectrogram
    from waveflow.audio.data.io import load_audio

    files = test_files(data_cfg)[:limit]
    front_end = MelSpectrogram(data_cfg.mel)
    audio = [load_audio(file, data_cfg.mel.sample_rate) for file in files]
    mels = [front_end(clip) for clip in audio]
    return TestSet(files, audio, mels, data_cfg.mel, sigma)
