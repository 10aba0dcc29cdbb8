"""What a measured time was measured on: the device kind and its hardware, as one string.

Score records keep it, so a search charges a cached scoring time only when that time was measured
on the same kind of device (``scoring.service.ScoringService``).
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

import torch


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` where there is one, else ``platform.processor()``)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown cpu"


def describe_device(device: str | torch.device) -> str:
    """``"cuda:<GPU name>"`` or ``"cpu:<model name>"`` for ``device`` (the kind of device a time was
    measured on; thread counts are left out, they are a setting of the same hardware)."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{torch.cuda.get_device_name(index)}"
    if device.type != "cpu":
        return device.type
    return f"cpu:{cpu_model()}"
