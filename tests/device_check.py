"""Catch tensors that do not follow the requested device, on a CPU-only machine.

On a CPU every tensor lands on the CPU whether or not the code asked for the model's device, so
a CPU run cannot tell ``torch.zeros(n)`` from ``torch.zeros(n, device=x.device)``; on a GPU the
first one fails ("Expected all tensors to be on the same device"). Inside
:class:`ImplicitDeviceCheck` a tensor factory (``torch.zeros``, ``randn``, ``arange``,
``tensor``, ... : torch's own list of functions that take ``device=``) called WITHOUT
``device=`` directly from the project's code (``waveflow/``, ``tools/``, with the NVIDIA reference
``tools/reference/nvidia_maths.py``; not torch's own code, such as an optimizer's state) raises an
AssertionError naming the file and line. Building modules is exempt (an ``nn.Module.__init__``
on the stack: models are built on the CPU and moved with ``.to``); so are
the ``*_like`` and ``Tensor.new_*`` factories, which follow their input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

ROOT = Path(__file__).resolve().parents[1]
CHECKED = (ROOT / "waveflow", ROOT / "tools")


def _project_caller() -> tuple[str, int] | None:
    """File and line of the project code that made the call (torch's factories are builtins,
    so the calling frame is the caller's), unless the call is torch's own or builds a module."""
    frame = sys._getframe(2)
    path = Path(frame.f_code.co_filename)
    if not any(path == c or c in path.parents for c in CHECKED):
        return None
    caller = (str(path.relative_to(ROOT)), frame.f_lineno)
    while frame is not None:
        if frame.f_code.co_name == "__init__" and isinstance(
            frame.f_locals.get("self"), torch.nn.Module
        ):
            return None
        frame = frame.f_back
    return caller


class ImplicitDeviceCheck(TorchFunctionMode):
    """``with ImplicitDeviceCheck(): ...``; see the module docstring. ``calls`` counts the
    factory calls checked (so that a test can show the check saw the code at all)."""

    def __init__(self) -> None:
        super().__init__()
        self.factories = _device_constructors()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.factories:
            self.calls += 1
            if kwargs.get("device") is None:
                caller = _project_caller()
                if caller is not None:
                    raise AssertionError(
                        f"{caller[0]}:{caller[1]}: torch.{func.__name__}(...) without device= "
                        "(it lands on the CPU whatever device the model is on)"
                    )
        return func(*args, **kwargs)
