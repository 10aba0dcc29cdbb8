"""Keep freed memory in the process for reuse: glibc's malloc tuned for scoring on the CPU.

Scoring a network allocates and frees activations of tens of MB per layer, per cell. glibc's
malloc hands blocks that large to ``mmap`` and returns them to the kernel on ``free``, so every
forward pass faults fresh zeroed pages in again: on a 2-core Xeon an NB101 cell at batch 128 spent
as much time in the kernel as in the convolutions. :func:`retain_freed_memory` makes malloc serve
every block from its heap and keep freed memory for the next cell (``mallopt``: no ``mmap``, a
trim threshold of 2 GiB and a 1 GiB top pad). Measured with ``python -m scoring.bench --space nb101``
(README, "Scoring speed"): about 1.7x faster NB101 scoring; the resident set stays near the peak of
the largest network scored instead of shrinking after each cell.

It changes the whole process, so library code does not call it behind the caller's back: the
process owners do (:class:`scoring.scorer.CellScorer` when asked, which the scoring pools, the CLI
commands and the Ray actors ask for). It is a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

TRIM_THRESHOLD_BYTES = 2**31 - 1  # the largest value mallopt's int takes
TOP_PAD_BYTES = 2**30

_applied: bool | None = None


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


def retain_freed_memory() -> bool:
    """Tune this process's malloc to keep freed memory (see the module docstring); idempotent.

    Returns:
        True when the settings are in effect (glibc accepted all three), False where they cannot
        be applied (not Linux, not glibc).
    """
    global _applied
    if _applied is None:
        libc = _glibc()
        _applied = bool(
            libc is not None
            and libc.mallopt(_M_MMAP_MAX, 0) == 1
            and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
            and libc.mallopt(_M_TOP_PAD, TOP_PAD_BYTES) == 1
        )
    return _applied
