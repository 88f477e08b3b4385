"""The one restricted unpickler: a file's Python globals resolve only through an allow-list.

Unpickling can import and call any Python global the file names; :class:`RestrictedUnpickler`
refuses every global its :meth:`~RestrictedUnpickler.allowed_global` does not return, before
anything is imported or called. Subclasses state a policy (NVIDIA checkpoints:
:mod:`waveflow.audio.formats.safe_unpickle`; CIFAR-10 batches: :mod:`waveflow.image.cifar`).
"""

from __future__ import annotations

import pickle
from typing import Any


class RefusedGlobal(pickle.UnpicklingError):
    """The file references a Python global outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"refusing to load global {module}.{name}")
        self.global_name = f"{module}.{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only resolves what the policy allows."""

    def allowed_global(self, module: str, name: str) -> Any | None:
        """The object for global ``module.name``, or None to refuse it (default: refuse all)."""
        return None

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module
        found = self.allowed_global(module, name)
        if found is None:
            raise RefusedGlobal(module, name)
        return found
