"""NAS-Bench-101: the space (``space.py``: cells, pruning, the benchmark's hash, sampling and
mutation; ``network.py``: networks from ``nasbench_pytorch``), the embedded table of every cell
(``table.py``, ``nb101.parquet``; see ``PROVENANCE.md``) and the benchmarks (``benchmark.py``: the
embedded table and sample; ``tfrecord.py``: a user's ``nasbench_only108.tfrecord``)."""

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
        benchmark_help=(
            "nasbench_only108.tfrecord (or a directory holding it), for validation accuracies and training "
            "times; default: the embedded table of all 423,624 cells (test accuracy, params)"
        ),
        build_options=("stem_channels",),
    ),
)

__all__ = ["SPACES", "NB101Cell", "NB101Space"]
