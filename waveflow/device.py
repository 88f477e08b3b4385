"""Where and in what precision to compute: the device a user's ``--device`` / ``train.device``
names, the precision names (``fp32``, ``bf16``, ``fp16``) of ``--dtype`` / ``train.dtype``, and
whether a device computes a low precision natively."""

from __future__ import annotations

import functools

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


#: torch's own checks of the CPU features that its oneDNN (mkldnn) bf16/fp16 convolutions and
#: matmuls need (the same checks its convolution dispatch makes); names absent from older torch
#: read as "not supported".
CPU_PROBES = {
    torch.bfloat16: "_is_mkldnn_bf16_supported",
    torch.float16: "_is_mkldnn_fp16_supported",
}


def cpu_has_native(dtype: torch.dtype) -> bool:
    """Whether this CPU runs ``dtype`` convolutions natively through oneDNN (AVX512-BF16/AMX
    for bf16, AVX512-FP16/AMX-FP16 for fp16, or the Arm equivalents) and oneDNN is enabled.
    Without it torch decomposes a dilated ``dtype`` convolution into thousands of scalar
    operations (``tools/cpu_precision.py``: about 30x slower than fp32)."""
    mkldnn = torch.backends.mkldnn
    return mkldnn.is_available() and bool(mkldnn.enabled) and _cpu_probe(dtype)


@functools.cache
def _cpu_probe(dtype: torch.dtype) -> bool:
    probe = getattr(torch.ops.mkldnn, CPU_PROBES[dtype], None)
    return probe is not None and bool(probe())


def native_low_precision(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether ``device`` computes ``dtype`` (bf16 or fp16) natively: CUDA (bf16 where the GPU
    supports it), a CPU per :func:`cpu_has_native`; other devices are trusted."""
    if device.type == "cpu":
        return cpu_has_native(dtype)
    if device.type == "cuda" and dtype == torch.bfloat16:
        return torch.cuda.is_bf16_supported()
    return True
