"""Facts about the machine a benchmark ran on (recorded next to every result)."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def cpu_model() -> str:
    """The CPU's marketing name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores() -> int:
    """CPU cores this process may run on (affinity mask), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_info(device: torch.device) -> dict[str, object]:
    """CPU model, cores, torch threads and version, device name, Python, OS and the UTC date."""
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = f"cpu ({cpu_model()})"
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "device": str(device),
        "device_name": device_name,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1m": _load_average(),
        "date": now.date().isoformat(),
        "datetime_utc": now.isoformat(timespec="seconds"),
    }


def _load_average() -> float | None:
    """The 1-minute load average: other work on the machine makes timings noisy."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
