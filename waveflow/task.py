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

    def load_weights(self, model: torch.nn.Module, model_cfg: Any, path: str) -> None:
        """Load the weights of the checkpoint at `path` into `model` (`train.init_from`).

        Called on the unwrapped model of a fresh run instead of `initialize`. The default reads
        a native checkpoint (`waveflow.checkpoint.load_checkpoint`: its `model` entry, the EMA
        weights if it was trained with EMA) and requires this task's name, exactly the model's
        parameter names and shapes, and the same `model:` config (fields that no shape shows,
        such as a hop length). Families override it to accept foreign formats too. Every
        problem is a one-line WaveflowError.
        """
        from waveflow.checkpoint import load_checkpoint

        load_native_weights(self, model, model_cfg, load_checkpoint(path), path)

    def log_media(self, model: torch.nn.Module, writer: Any, step: int, valid_set: Dataset) -> None:
        """Write audio/images to TensorBoard (`writer` is a SummaryWriter); default: nothing.

        Called on rank 0 only, every `train.media_every` steps, with the unwrapped model in
        eval mode under no_grad.
        """
        return None


def load_native_weights(
    task: Task, model: torch.nn.Module, model_cfg: Any, ckpt: dict[str, Any], path: str
) -> None:
    """`Task.load_weights` for a loaded native checkpoint `ckpt`: checks, then loads."""
    from waveflow.checkpoint import check_state_fits, load_state
    from waveflow.config import from_dict

    if ckpt["task"] != task.name:
        raise WaveflowError(
            f"train.init_from {path} holds a {ckpt['task']!r} model, not {task.name!r}"
        )
    check_state_fits(model, ckpt["model"], path)
    found = from_dict(task.model_config, checkpoint_model_section(task, ckpt), "model")
    check_same_config(found, model_cfg, path)
    load_state(model, ckpt["model"], path)


def checkpoint_model_section(task: Task, ckpt: dict[str, Any]) -> dict[str, Any]:
    """The `model` section of a checkpoint's config without the keys that have moved out of
    it since (`Task.moved_keys`, e.g. Glow's `y_weight`), so older checkpoints still load."""
    moved = {key.partition(".")[2] for key in task.moved_keys if key.startswith("model.")}
    return {k: v for k, v in ckpt["config"]["model"].items() if k not in moved}


def check_same_config(
    found: Any, expected: Any, source: str, fields: tuple[str, ...] | None = None
) -> None:
    """Raise a one-line WaveflowError naming the first field (of `fields`; default all) where
    two model config dataclasses differ."""
    from waveflow.config import to_dict

    theirs, ours = to_dict(found), to_dict(expected)
    for key, value in ours.items():
        if (fields is None or key in fields) and theirs.get(key) != value:
            raise WaveflowError(
                f"{source} was trained with model.{key}={theirs.get(key)!r}, but the config "
                f"says {value!r}"
            )


TASKS: dict[str, str | type[Task]] = {
    "waveglow": "waveflow.audio.task:WaveGlowTask",
    "waveflow": "waveflow.audio.waveflow_task:WaveFlowTask",
    "glow": "waveflow.image.task:GlowTask",
    "distill": "waveflow.audio.distill:DistillTask",
    "nice": "waveflow.image.flow_tasks:NICETask",
    "realnvp": "waveflow.image.flow_tasks:RealNVPTask",
    "toy2d": "waveflow.toy.task:Toy2DTask",
}


def register_task(name: str, target: str | type[Task]) -> None:
    """Register `target` (a Task subclass or a `"module:Class"` string) under `name`."""
    TASKS[name] = target


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
