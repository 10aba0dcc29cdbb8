"""NAS-Bench-201 / NATS-Bench topology space: the space (``space.py``), its network
(``network.py``), the embedded table (``table.py``, ``nb201.parquet``) and the benchmarks
(``benchmark.py``: the embedded table and a user's NATS-Bench tss directory)."""

from __future__ import annotations

from search_spaces.core.registry import SpaceEntry
from search_spaces.nb201.space import NB201Cell, NB201Space


def _open(space, path):
    from search_spaces.nb201.benchmark import open_nb201_benchmark

    return open_nb201_benchmark(path, space)


SPACES = (
    SpaceEntry(
        "nb201",
        NB201Space,
        _open,
        benchmark_help="a NATS-Bench tss directory (NATS-tss-v1_0-3ffb9-simple)",
    ),
)

__all__ = ["SPACES", "NB201Cell", "NB201Space"]
