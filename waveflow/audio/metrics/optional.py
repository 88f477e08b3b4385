"""Import of the optional evaluation packages (the `eval` extra) with a clear error if absent."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from waveflow.errors import WaveflowError

INSTALL_HINT = "pip install 'waveflow[eval]'"


class MissingDependencyError(WaveflowError):
    """An optional package needed by one metric (or by plotting) is not installed."""


def import_optional(module: str, package: str | None = None, *, purpose: str) -> ModuleType:
    """Import `module` (distributed as `package`, default the same name) or raise.

    The error names the purpose and the package, e.g. "PESQ skipped: package 'pesq' is not
    installed (pip install 'waveflow[eval]')". Import-time warnings of these third-party
    packages (pyworld warns about `pkg_resources`) are silenced.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as err:
        name = package or module
        if err.name is not None and err.name.split(".")[0] != module.split(".")[0]:
            # The package is there but one of its own imports failed (pyworld needs
            # `pkg_resources`, which setuptools >= 81 no longer ships).
            raise MissingDependencyError(
                f"{purpose} skipped: package '{name}' cannot be imported: {err} ({INSTALL_HINT})"
            ) from err
        raise MissingDependencyError(
            f"{purpose} skipped: package '{name}' is not installed ({INSTALL_HINT})"
        ) from err
