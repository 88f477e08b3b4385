"""Where and in what precision to compute: the device a user's ``--device`` / ``train.device``
names, and the precision names (``fp32``, ``bf16``, ``fp16``) of ``--dtype`` / ``train.dtype``."""

from __future__ import annotations

import torch

from waveflow.errors import WaveflowError

#: Precision names as options spell them -> torch dtypes.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, option: str = "--device") -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is an error naming
    ``option`` (the option or config key the name came from)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WaveflowError(f"{option} {name} requested but no CUDA device is available")
    return torch.device(name)
