"""What a measured time was measured on: the device kind and its hardware, as one string.

Score records keep it, so a search charges a cached scoring time only when that time was measured
on the same kind of device (``scoring.service.ScoringService``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from search_spaces.core.costs import cpu_model_name

_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from the first ``flags`` line of ``/proc/cpuinfo``; empty where there
    is no such file (not Linux) or it cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.lower().startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_vnni() -> bool:
    """Whether this CPU multiplies int8 fast (AVX-512 VNNI or AVX-VNNI). Without VNNI,
    ``torch._int_mm`` on the CPU was measured 20x slower than float32 (an AMD EPYC without VNNI:
    5.7 s against 0.26 s for 128 x 262,144 codes)."""
    return not _VNNI_FLAGS.isdisjoint(cpu_flags())


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` where there is one, else ``platform.processor()``)."""
    return cpu_model_name()


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
