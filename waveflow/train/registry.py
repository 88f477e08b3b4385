"""The task registry: maps a task name (as written in configs and checkpoints) to its `Task`.

Tasks are resolved lazily with importlib so that importing the registry does not import the
audio or image code. A name of the form `package.module:ClassName` is accepted too, so that
plug-in tasks (and the test suite's toy tasks) can be trained without registering them.
"""

from __future__ import annotations

import difflib
import importlib

from waveflow.errors import WaveflowError
from waveflow.train.task import Task

TASKS: dict[str, str | type[Task]] = {
    "waveglow": "waveflow.audio.task:WaveGlowTask",
    "glow": "waveflow.image.task:GlowTask",
}


def register_task(name: str, target: str | type[Task]) -> None:
    """Register `target` (a Task subclass or a `"module:Class"` string) under `name`."""
    TASKS[name] = target


def get_task(name: str) -> Task:
    """Return a new instance of the task registered as `name` (or named `"module:Class"`).

    Raises WaveflowError for an unknown name (listing the known ones), a target that cannot be
    imported, or a target that is not a `Task` subclass.
    """
    if not isinstance(name, str) or not name:
        raise WaveflowError(f"task name must be a non-empty string, got {name!r}")
    target = TASKS.get(name)
    if target is None:
        if ":" not in name:
            known = ", ".join(sorted(TASKS))
            close = difflib.get_close_matches(name, list(TASKS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise WaveflowError(f"unknown task {name!r} (known tasks: {known}{hint})")
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
