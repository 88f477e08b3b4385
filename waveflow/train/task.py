"""The `Task` interface: a model family (WaveGlow, Glow, ...) as the training engine sees it.

The engine knows nothing about audio or images. A task builds the model and the datasets from
its own config dataclasses and turns a batch into a loss; everything else (optimisation,
mixed precision, checkpoints, distributed training, logging) is the engine's job.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset


class Task(abc.ABC):
    """A model family as the engine sees it.

    Subclasses set the class attributes and implement the three abstract methods:

    - `name`: the registry name written into checkpoints ("waveglow", "glow", ...).
    - `model_config`: a dataclass; the YAML `model:` section is parsed into it.
    - `data_config`: a dataclass; the YAML `data:` section is parsed into it.
    """

    name: ClassVar[str]
    model_config: ClassVar[type]
    data_config: ClassVar[type]

    @abc.abstractmethod
    def build_model(self, model_cfg: Any) -> torch.nn.Module:
        """Return a freshly initialised model for `model_cfg` (an instance of `model_config`)."""

    @abc.abstractmethod
    def build_datasets(self, data_cfg: Any, model_cfg: Any) -> tuple[Dataset, Dataset]:
        """Return `(train, valid)` map-style datasets (they must define `__len__`).

        A dataset may define `set_epoch(epoch: int)`; the engine calls it at the start of every
        epoch so that random crops are reproducible and resumable.
        """

    @abc.abstractmethod
    def loss(self, model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """Return `{"loss": scalar to minimise, **scalar metrics to log}`.

        `loss` must be a 0-dim tensor computed in fp32 (log-determinants included) even when
        the engine runs the forward under autocast. Other entries are 0-dim metrics such as
        `bits_per_sample` or `bits_per_dim`. `model` may be wrapped in DistributedDataParallel:
        call `model(...)` for the forward pass, never a method of the inner module. `batch` is
        already on the training device (tensors, or tuples/lists/dicts of tensors).
        """

    def collate_fn(self) -> Callable[[list[Any]], Any] | None:
        """Return the DataLoader `collate_fn`; `None` means PyTorch's default collation."""
        return None

    def initialize(self, model: torch.nn.Module, batch: Any) -> None:
        """Data-dependent initialisation (e.g. ActNorm) on one init batch before step 1.

        Called once, on the unwrapped model in train mode, only for a fresh run (never on
        resume). The default runs `loss()` under no_grad, which triggers lazily initialised
        layers.
        """
        with torch.no_grad():
            self.loss(model, batch)

    def log_media(self, model: torch.nn.Module, writer: Any, step: int, valid_set: Dataset) -> None:
        """Write audio/images to TensorBoard (`writer` is a SummaryWriter); default: nothing.

        Called on rank 0 only, every `train.media_every` steps, with the unwrapped model in
        eval mode under no_grad.
        """
        return None
