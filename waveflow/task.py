"""The `Task` interface and the task registry: the floor under the engine and the families.

A task is a model family (WaveGlow, Glow, ...) as the training engine sees it. The engine knows
nothing about audio or images: a task builds the model and the datasets from its own config
dataclasses and turns a batch into a loss under the `loss:` options it is handed; everything
else (optimisation, mixed precision, checkpoints, distributed training, logging) is the
engine's job.

The registry maps a task name (as written in configs and checkpoints) to its `Task`. Built-in
families are resolved lazily with importlib, so that importing this module imports neither the
audio nor the image code. A name of the form `package.module:ClassName` (a plug-in) is accepted
only from a config the user wrote (`get_task(name, allow_plugin=True)`); a name read from a
checkpoint must be registered, so loading a file never imports a module the file names.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import importlib
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset

from waveflow.errors import WaveflowError


@dataclasses.dataclass
class NoLossOptions:
    """The `loss:` section of a task whose loss has no settings (it must stay empty)."""


class Task(abc.ABC):
    """A model family as the engine sees it.

    Subclasses set the class attributes and implement the three abstract methods:

    - `name`: the registry name written into checkpoints ("waveglow", "glow", ...).
    - `model_config`: a dataclass; the YAML `model:` section is parsed into it.
    - `data_config`: a dataclass; the YAML `data:` section is parsed into it.
    - `loss_config`: a dataclass whose fields all have defaults; the YAML `loss:` section is
      parsed into it and the instance is handed to every `loss` call (default: `NoLossOptions`).
    - `moved_keys`: dotted keys of older configs and where they live now, e.g.
      `{"data.sigma": "loss.sigma"}`; such a key in a config the user wrote is a one-line
      error saying where it moved, and a `model.` one in a checkpoint's config is ignored.
    - `unsupported_keys`: dotted keys of another family's options that this family does not
      support, and why (e.g. WaveGlow's `model.lapped` in a WaveFlow config); such a key in a
      config the user wrote is a one-line error naming the key, the task and the reason.

    A task holds no settings of its own: `build_model` and `build_datasets` return what they
    build and set nothing on the task; `loss` gets its settings as an argument.
    """

    name: ClassVar[str]
    model_config: ClassVar[type]
    data_config: ClassVar[type]
    loss_config: ClassVar[type] = NoLossOptions
    moved_keys: ClassVar[dict[str, str]] = {}
    unsupported_keys: ClassVar[dict[str, str]] = {}

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
    def loss(self, model: torch.nn.Module, batch: Any, options: Any) -> dict[str, torch.Tensor]:
        """Return `{"loss": scalar to minimise, **scalar metrics to log}`.

        `options` is the parsed `loss:` section (an instance of `loss_config`).

        `loss` must be a 0-dim tensor computed in fp32 (log-determinants included) even when
        the engine runs the forward under autocast. Other entries are 0-dim metrics such as
        `bits_per_sample` or `bits_per_dim`. `model` may be wrapped in DistributedDataParallel:
        call `model(...)` for the forward pass, never a method of the inner module. `batch` is
        already on the training device (tensors, or tuples/lists/dicts of tensors).
        """

    def size_floor(self, model_cfg: Any) -> tuple[int, int]:
        """The fewest ``(tensors, values)`` in the state dict of a model built from `model_cfg`.

        Computed from the config alone, without building anything, so that a checkpoint whose
        config asks for a huge model is refused before memory is allocated (see
        `waveflow.checkpoint.model_from_checkpoint`). It must never exceed the real counts: a
        loose bound is safe, a tight one only refuses sooner. Default: ``(0, 0)`` (no bound).
        """
        return 0, 0

    def collate_fn(self) -> Callable[[list[Any]], Any] | None:
        """Return the DataLoader `collate_fn`; `None` means PyTorch's default collation."""
        return None

    def initialize(self, model: torch.nn.Module, batch: Any, options: Any) -> None:
        """Data-dependent initialisation (e.g. ActNorm) on one init batch before step 1.

        Called once, on the unwrapped model in train mode, only for a fresh run (never on
        resume), with the `loss:` options. The default runs `loss()` under no_grad, which
        triggers lazily initialised layers.
        """
        with torch.no_grad():
            self.loss(model, batch, options)

    def load_foreign_weights(
        self, model: torch.nn.Module, model_cfg: Any, path: str, error: WaveflowError
    ) -> None:
        """`train.init_from` names a file that is not a native checkpoint (`error` says why).

        Called on the unwrapped model of a fresh run by `waveflow.checkpoint.load_init_weights`
        (which reads native checkpoints itself). A family that reads a foreign format (WaveGlow:
        NVIDIA's published files) loads it into `model` here; the default raises `error`.
        Every problem is a one-line WaveflowError.
        """
        raise error

    def log_media(self, model: torch.nn.Module, writer: Any, step: int, valid_set: Dataset) -> None:
        """Write audio/images to TensorBoard (`writer` is a SummaryWriter); default: nothing.

        Called on rank 0 only, every `train.media_every` steps, with the unwrapped model in
        eval mode under no_grad.
        """
        return None


#: What each built-in task models, so that commands tell a vocoder (mel -> audio: `waveflow
#: synthesize`) from an image flow (`waveflow sample`, bits/dim) and the 2-D toy densities.
VOCODER_TASKS = ("waveglow", "waveflow", "distill")
IMAGE_TASKS = ("glow", "nice", "realnvp")
POINT_TASKS = ("toy2d",)

TASKS: dict[str, str | type[Task]] = {
    "waveglow": "waveflow.audio.tasks.vocoder:WaveGlowTask",
    "waveflow": "waveflow.audio.tasks.waveflow_task:WaveFlowTask",
    "glow": "waveflow.image.task:GlowTask",
    "distill": "waveflow.audio.tasks.distill:DistillTask",
    "nice": "waveflow.image.flow_tasks:NICETask",
    "realnvp": "waveflow.image.flow_tasks:RealNVPTask",
    "toy2d": "waveflow.toy.task:Toy2DTask",
}


def get_task(name: str, allow_plugin: bool = False) -> Task:
    """Return a new instance of the task registered as `name`.

    With `allow_plugin=True` (a config the user wrote) a name of the form `"module:Class"` is
    imported too; otherwise (a name read from a checkpoint) only registered names resolve and
    nothing named by the caller is imported. Raises WaveflowError for an unknown name (listing
    the known ones), a target that cannot be imported, or one that is not a `Task` subclass.
    """
    if not isinstance(name, str) or not name:
        raise WaveflowError(f"task name must be a non-empty string, got {name!r}")
    target = TASKS.get(name)
    if target is None:
        known = ", ".join(sorted(TASKS))
        if ":" not in name:
            close = difflib.get_close_matches(name, list(TASKS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise WaveflowError(f"unknown task {name!r} (known tasks: {known}{hint})")
        if not allow_plugin:
            raise WaveflowError(
                f"unknown task {name!r} (known tasks: {known}); plug-in tasks load only from a "
                "config you name, never from a checkpoint"
            )
        target = name
    cls = _resolve(name, target) if isinstance(target, str) else target
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise WaveflowError(f"task {name!r} resolves to {cls!r}, which is not a Task subclass")
    return cls()


def _resolve(name: str, target: str) -> object:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise WaveflowError(f"task {name!r}: target {target!r} is not of the form 'module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise WaveflowError(f"task {name!r} cannot be imported from {module_name}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise WaveflowError(f"task {name!r}: module {module_name} has no {attr!r}") from err
