"""NAS-Bench-101: the space (``space.py``: cells, pruning, the benchmark's hash; networks from
``nasbench_pytorch``) and its benchmarks (``benchmark.py``: the embedded table and a user's
``nasbench_only108.tfrecord``)."""

from __future__ import annotations

from search_spaces.core.registry import SpaceEntry
from search_spaces.nb101.space import NB101Cell, NB101Space


def _open(space, path):
    from search_spaces.nb101.benchmark import open_nb101_benchmark

    return open_nb101_benchmark(space, path)


SPACES = (
    SpaceEntry(
        "nb101",
        NB101Space,
        _open,
        benchmark_help="nasbench_only108.tfrecord (or a directory holding it)",
        build_options=("stem_channels",),
    ),
)

__all__ = ["SPACES", "NB101Cell", "NB101Space"]
