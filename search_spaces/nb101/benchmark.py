"""NAS-Bench-101 lookups: the embedded table of every cell, the embedded 500-row sample, and the opener.

* :class:`NB101Benchmark` (default, ``nb101-embedded``): every one of the benchmark's 423,624 cells
  (``nb101.parquet``, see ``PROVENANCE.md`` and ``search_spaces.nb101.table``): the 108-epoch
  CIFAR-10 test accuracy (mean of the benchmark's 3 runs) and the parameter count of each, plus the
  108-epoch validation accuracy of the 292 distinct cells of NASLib's sample (NaN for the others).
  It records no training time (``cost_name`` None): budgeted searches need the official file.
* :class:`NB101SampleTable` (``nb101-sample500``): NASLib's 500-row sample alone
  (``nb101_sample500.parquet``: validation accuracy, params and flops of 292 distinct cells), for
  studies of validation accuracy; :class:`NB101Benchmark` takes its validation accuracies from it.
* ``search_spaces.nb101.tfrecord.NB101TFRecordBenchmark``: a user's official
  ``nasbench_only108.tfrecord`` (validation and test accuracy, training time, params).

Fitness caveat: the full table's only accuracy for every cell is the *test* accuracy, so searches on
it optimise ``cifar10_test``; the NAS-Bench-101 paper's regularised evolution optimises validation
accuracy (the official file has it), and reports test accuracy only to compare searches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from search_spaces.core.benchmark import MetricSpec
from search_spaces.core.errors import ArchitectureNotInBenchmarkError, BenchmarkDataError
from search_spaces.nb101.space import NB101Cell, NB101Space, make_cell, parse_cell
from search_spaces.nb101.table import NB101Table, embedded_table
from search_spaces.nb101.tfrecord import TFRECORD_NAMES, NB101TFRecordBenchmark

_SAMPLE_FILE = "nb101_sample500.parquet"

EMBEDDED_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "cifar10_valid",
        "%",
        "CIFAR-10 validation accuracy after 108 epochs (NASLib's sample: 292 cells; NaN for the others)",
    ),
    MetricSpec(
        "cifar10_test",
        "%",
        "CIFAR-10 test accuracy after 108 epochs, mean of the benchmark's 3 runs",
        "C10 test",
        reported=True,
    ),
    MetricSpec("params_m", "M", "trainable parameters (millions) of the benchmark network of the stored spec"),
)
SAMPLE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "cifar10_valid",
        "%",
        "CIFAR-10 validation accuracy after 108 epochs (mean of the sample's rows)",
        "C10 valid",
        reported=True,
    ),
    MetricSpec("params_m", "M", "trainable parameters (millions) of the benchmark network"),
    MetricSpec("flops_m", "M", "FLOPs (millions) of the benchmark network on a 32x32 image"),
)


# -- the embedded sample ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _sample_table():
    with resources.as_file(resources.files("search_spaces.nb101") / _SAMPLE_FILE) as path:
        return pq.ParquetFile(path).read()


def sample_frame():
    """The embedded 500 rows as a pandas DataFrame (a copy): key, arch, cifar10_valid, params_m, flops_m."""
    return _sample_table().to_pandas()


@lru_cache(maxsize=1)
def _sample_groups() -> tuple[tuple[str, str, float, float, float], ...]:
    """Per distinct cell of the sample, in the order of its first row: (key, arch of the first row,
    mean validation accuracy of its rows, params and flops of the first row)."""
    table = _sample_table()
    columns = [table.column(name).to_pylist() for name in ("key", "arch", "cifar10_valid", "params_m", "flops_m")]
    first: dict[str, tuple[str, float, float]] = {}
    valid: dict[str, list[float]] = {}
    for key, arch, accuracy, params, flops in zip(*columns, strict=True):
        first.setdefault(key, (arch, params, flops))
        valid.setdefault(key, []).append(accuracy)
    return tuple(
        (key, arch, math.fsum(valid[key]) / len(valid[key]), params, flops)
        for key, (arch, params, flops) in first.items()
    )


class NB101SampleTable:
    """The 500-row NAS-Bench-101 sample shipped with naswot (292 distinct cells, no training time).

    Several rows describe the same cell up to isomorphism (small cells, other training repeats): the
    table answers per cell with the mean validation accuracy of its rows.
    """

    name = "nb101-sample500"
    space_name = "nb101"
    metrics = SAMPLE_METRICS
    fitness_names = ("cifar10_valid",)
    default_fitness = "cifar10_valid"
    cost_name = None

    def __init__(self, space: NB101Space | None = None) -> None:
        self.space = space or NB101Space()
        groups = _sample_groups()
        self._row_of = {group[0]: i for i, group in enumerate(groups)}
        self._metrics = {
            "cifar10_valid": np.array([g[2] for g in groups]),
            "params_m": np.array([g[3] for g in groups]),
            "flops_m": np.array([g[4] for g in groups]),
        }
        self._cells = tuple(parse_cell(g[1]) for g in groups)
        self.rows = _sample_table().num_rows

    def __len__(self) -> int:
        return len(self._cells)

    def lookup(self, arch: NB101Cell) -> dict[str, float]:
        """Validation accuracy (%), params and flops of ``arch`` (any isomorphic form).

        Raises:
            ArchitectureNotInBenchmarkError: the cell is not among the sample's 292.
        """
        if not isinstance(arch, NB101Cell):
            raise ArchitectureNotInBenchmarkError(f"{arch!r} is not a NAS-Bench-101 cell")
        key = self.space.key(arch)
        row = self._row_of.get(key)
        if row is None:
            raise ArchitectureNotInBenchmarkError(
                f"NB101 cell {self.space.format(arch)} (hash {key}) is not in the embedded 500-row sample "
                f"({len(self._cells)} distinct cells)"
            )
        return {name: float(values[row]) for name, values in self._metrics.items()}

    def cells(self) -> Sequence[NB101Cell]:
        """The sample's distinct cells, in the order of their first row."""
        return self._cells


# -- the embedded table of every cell ------------------------------------------------------------


class NB101Benchmark:
    """Every NAS-Bench-101 cell: 108-epoch test accuracy and params, validation accuracy where
    NASLib's sample has it (see the module docstring, also for the fitness caveat).

    Lookups go by the benchmark's module hash (a binary search of the sorted table), so any
    isomorphic labelling of a cell finds its row. Loading reads about 13 MB of columns.

    Args:
        space: the space whose cells are looked up (its ``key`` is the hash).
        table: the table to answer from (default: the embedded one, shared per process).

    Raises:
        BenchmarkDataError: the embedded table file cannot be read.
    """

    name = "nb101-embedded"
    space_name = "nb101"
    metrics = EMBEDDED_METRICS
    fitness_names = ("cifar10_test",)
    default_fitness = "cifar10_test"
    cost_name = None

    def __init__(self, space: NB101Space | None = None, table: NB101Table | None = None) -> None:
        self.space = space or NB101Space()
        self.table = table if table is not None else embedded_table()
        self._valid = {group[0]: group[2] for group in _sample_groups()}

    def __len__(self) -> int:
        return len(self.table)

    def lookup_key(self, key: str) -> dict[str, float]:
        """Every metric of the cell whose module hash is ``key`` (32 hex digits).

        Raises:
            ArchitectureNotInBenchmarkError: no cell of the benchmark has that hash.
        """
        row = self.table.row_of(key)
        if row is None:
            raise ArchitectureNotInBenchmarkError(f"no NAS-Bench-101 cell has the hash {key!r}")
        return {
            "cifar10_valid": float(self._valid.get(key, math.nan)),
            "cifar10_test": float(self.table.cifar10_test[row]),
            "params_m": int(self.table.params[row]) / 1e6,
        }

    def lookup(self, arch: NB101Cell) -> dict[str, float]:
        """Every metric of :data:`EMBEDDED_METRICS` for ``arch`` (any isomorphic labelling).

        Raises:
            ArchitectureNotInBenchmarkError: ``arch`` is not an NB101 cell, or (never for a valid
                cell: the table holds them all) its hash is not in the table.
        """
        if not isinstance(arch, NB101Cell):
            raise ArchitectureNotInBenchmarkError(f"{arch!r} is not a NAS-Bench-101 cell")
        return self.lookup_key(self.space.key(arch))

    def stored_cell(self, key: str) -> NB101Cell:
        """The benchmark's stored spec of the cell whose hash is ``key``, as a cell.

        Raises:
            ArchitectureNotInBenchmarkError: no cell of the benchmark has that hash.
        """
        spec = self.table.stored_spec(key)
        if spec is None:
            raise ArchitectureNotInBenchmarkError(f"no NAS-Bench-101 cell has the hash {key!r}")
        return make_cell(*spec)

    def cells(self) -> None:
        """None: the table covers the whole space."""
        return None


def open_nb101_benchmark(space: NB101Space | None = None, path: str | Path | None = None):
    """The embedded table of every cell when ``path`` is None; else the user's TFRecord file, or a
    directory holding ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord``.

    Raises:
        BenchmarkDataError: the path does not exist or holds no such file, or the embedded table
            cannot be read.
    """
    if path is None:
        return NB101Benchmark(space)
    path = Path(path).expanduser()
    if path.is_dir():
        for name in TFRECORD_NAMES:
            if (path / name).is_file():
                return NB101TFRecordBenchmark(path / name, space)
        raise BenchmarkDataError(f"{str(path)!r} holds none of {', '.join(TFRECORD_NAMES)}")
    return NB101TFRecordBenchmark(path, space)


__all__ = [
    "EMBEDDED_METRICS",
    "SAMPLE_METRICS",
    "NB101Benchmark",
    "NB101SampleTable",
    "NB101TFRecordBenchmark",
    "open_nb101_benchmark",
    "sample_frame",
]
