"""Peak memory: the process's RSS high-water mark on the CPU, the allocator's peak on CUDA.

The CPU figure is only honest in a fresh process that runs one case (``ru_maxrss`` never goes
down), which is why :mod:`bench.isolation` runs every case in its own subprocess by default.
It includes the Python interpreter, torch and the model; :func:`current_rss_bytes` taken just
before the timed runs gives the baseline to subtract.
"""

from __future__ import annotations

import os
import resource
import sys

import torch


def current_rss_bytes() -> int:
    """The resident set size now (Linux ``/proc/self/statm``; else the high-water mark)."""
    try:
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The RSS high-water mark of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def reset_peak(device: torch.device) -> None:
    """Start a new peak window (CUDA only: ``ru_maxrss`` cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def memory_report(device: torch.device, baseline_bytes: int) -> dict[str, int | str]:
    """``{"peak_bytes", "baseline_bytes", "memory_kind"}`` for ``device``.

    CUDA: ``torch.cuda.max_memory_allocated`` since :func:`reset_peak` (tensors only; the
    caching allocator and the CUDA context are extra). CPU: the process RSS high-water mark
    (at least every RSS observed: the baseline and the RSS now).
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return {
            "peak_bytes": int(torch.cuda.max_memory_allocated(device)),
            "baseline_bytes": baseline_bytes,
            "memory_kind": "cuda_max_memory_allocated",
        }
    # ru_maxrss follows the kernel's high-water mark, which is synced with the live RSS
    # counters lazily: it can read a few pages below an RSS seen earlier (the baseline) or now.
    # Every observed RSS is a lower bound of the true peak, so the largest is reported.
    return {
        "peak_bytes": max(peak_rss_bytes(), current_rss_bytes(), baseline_bytes),
        "baseline_bytes": baseline_bytes,
        "memory_kind": "process_peak_rss",
    }


def baseline_bytes(device: torch.device) -> int:
    """Memory in use before the timed runs: allocated CUDA bytes, or the current RSS."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return int(torch.cuda.memory_allocated(device))
    return current_rss_bytes()
