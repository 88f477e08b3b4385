"""A restricted pickle module for ``torch.load``: tensors, containers and inert stand-ins only.

``torch.load(path, pickle_module=safe_unpickle, weights_only=False)`` routes every global the
file references through :meth:`Unpickler.find_class` (torch's zip and legacy loaders both
subclass ``pickle_module.Unpickler`` and call ``pickle_module.load``). Three kinds of globals
are accepted:

* tensor rebuilding functions and harmless builtins (``SAFE_GLOBALS``);
* the classes of pickled ``nn.Module`` objects listed in ``STUB_CLASSES`` (NVIDIA's
  ``glow.WaveGlow``, ``WN``, ``Invertible1x1Conv``, torch's ``Conv1d``, ``ModuleList``,
  weight-norm hooks ...): they are replaced by :class:`PickledObject` subclasses that only store
  the unpickled attributes, so no code of the original classes (or of NVIDIA's repository) is
  needed or run;
* nothing else: any other global (``os.system``, ``builtins.eval``, ...) raises
  :class:`~waveflow.safe_pickle.RefusedGlobal` before it is called, so loading never executes
  code from the file (the mechanism is :class:`waveflow.safe_pickle.RestrictedUnpickler`).
"""

from __future__ import annotations

import collections
import copyreg
from typing import Any, ClassVar

import torch._utils

from waveflow.safe_pickle import RefusedGlobal, RestrictedUnpickler

__all__ = ["PickledObject", "RefusedGlobal", "Unpickler", "load", "stub_class"]

SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("torch", "Size"): torch.Size,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
}

_WAVEGLOW_CLASSES = frozenset({"WaveGlow", "WN", "Invertible1x1Conv"})
STUB_CLASSES: dict[str, frozenset[str]] = {
    "glow": _WAVEGLOW_CLASSES,
    "glow_old": _WAVEGLOW_CLASSES,
    "waveglow.glow": _WAVEGLOW_CLASSES,
    "waveglow.glow_old": _WAVEGLOW_CLASSES,
    "torch.nn.modules.conv": frozenset({"Conv1d", "ConvTranspose1d"}),
    "torch.nn.modules.container": frozenset({"ModuleList", "Sequential"}),
    "torch.nn.utils.weight_norm": frozenset({"WeightNorm"}),
}


class PickledObject:
    """Inert stand-in for an object of a stubbed class: keeps the unpickled state, runs nothing.

    ``pickled_module``/``pickled_name`` name the original class; ``__dict__`` holds the state
    (for a pickled ``nn.Module``: ``_parameters``, ``_buffers``, ``_modules``, ``stride``, ...).
    """

    pickled_module: ClassVar[str] = ""
    pickled_name: ClassVar[str] = ""
    dump_patches: ClassVar[bool] = False  # read by torch's legacy loader for module sources

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.init_args = (args, kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["pickled_state"] = state

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_module}.{self.pickled_name}>"


_STUBS: dict[tuple[str, str], type[PickledObject]] = {}


def stub_class(module: str, name: str) -> type[PickledObject]:
    """The (cached) :class:`PickledObject` subclass standing in for ``module.name``."""
    key = (module, name)
    if key not in _STUBS:
        _STUBS[key] = type(name, (PickledObject,), {"pickled_module": module, "pickled_name": name})
    return _STUBS[key]


class Unpickler(RestrictedUnpickler):
    """Resolves tensor rebuilding (``SAFE_GLOBALS``) and stubbed classes (``STUB_CLASSES``)."""

    def allowed_global(self, module: str, name: str) -> Any | None:
        if (module, name) in SAFE_GLOBALS:
            return SAFE_GLOBALS[(module, name)]
        if name in STUB_CLASSES.get(module, ()):
            return stub_class(module, name)
        return None


def load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` with the restricted :class:`Unpickler` (used by torch's legacy loader)."""
    return Unpickler(file, **kwargs).load()

