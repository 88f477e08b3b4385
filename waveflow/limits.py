"""Policy limits on what an input file may make waveflow do, and how to change them.

A file should never make waveflow allocate without bound or run for hours before it is
refused. These limits are policy, not correctness: each has a documented default, an
environment variable and a `waveflow` option (given before the command, e.g.
`waveflow --max-model-params 3e9 synthesize ...`) that overrides it.

- `max_model_params` (2e9, 8 GB in fp32; `WAVEFLOW_MAX_MODEL_PARAMS`,
  `--max-model-params`): parameters a checkpoint's config may ask for.
- `max_decompressed_mb` (4096; `WAVEFLOW_MAX_DECOMPRESSED_MB`, `--max-decompressed-mb`): MB a
  compressed data file (a gzipped IDX file) may expand to.
- `max_metric_seconds` (1800; `WAVEFLOW_MAX_METRIC_SECONDS`, `--max-metric-seconds`): longest
  file pair PESQ, STOI, MCD and F0 are computed on (mel and MR-STFT run in blocks on any length).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from waveflow.errors import WaveflowError


@dataclass
class Limits:
    """The limits in force (module-level `LIMITS`; read at use, so overrides apply at once)."""

    max_model_params: int = 2_000_000_000
    max_decompressed_mb: int = 4096
    max_metric_seconds: int = 1800


ENV = {
    "max_model_params": "WAVEFLOW_MAX_MODEL_PARAMS",
    "max_decompressed_mb": "WAVEFLOW_MAX_DECOMPRESSED_MB",
    "max_metric_seconds": "WAVEFLOW_MAX_METRIC_SECONDS",
}

LIMITS = Limits()


def parse_limit(text: str, name: str) -> int:
    """A positive count written as an integer or in float notation ("2e9")."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise WaveflowError(f"{name} must be a positive number, got {text!r}") from None
    if not value >= 1 or value == float("inf"):
        raise WaveflowError(f"{name} must be a positive number, got {text!r}")
    return int(value)


def load_environment(environ: dict[str, str] | None = None) -> None:
    """Apply the `WAVEFLOW_MAX_*` variables that are set to `LIMITS`."""
    environ = os.environ if environ is None else environ
    for field in fields(Limits):
        text = environ.get(ENV[field.name])
        if text:
            setattr(LIMITS, field.name, parse_limit(text, ENV[field.name]))
