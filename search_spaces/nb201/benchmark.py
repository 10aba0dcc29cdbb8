"""Accuracy and cost lookups for NAS-Bench-201 cells.

Two sources behind one interface (:class:`NB201Benchmark`):

* :class:`EmbeddedNB201Table` (default): the Parquet table shipped inside the package
  (all 15,625 cells; see ``search_spaces/nb201/PROVENANCE.md``);
* :class:`NATSTopologyBenchmark`: a user's real NATS-Bench topology directory
  (``NATS-tss-v1_0-3ffb9-simple``), read with ``nats_bench.create(path, 'tss', fast_mode=True)``.

Both implement the generic :class:`~search_spaces.core.benchmark.Benchmark` seam (``metrics``,
``lookup``; see :data:`NB201_METRICS`: fitness ``cifar10_valid_12ep``, cost ``train_time_12ep_s``,
NaN for what the embedded table lacks) as well as the older per-dataset accessors below.

Datasets are ``cifar10``, ``cifar100`` and ``imagenet16`` (ImageNet16-120); splits are ``test``,
``valid`` (200 epochs) and ``valid_12ep`` (the 12-epoch CIFAR-10 validation proxy that REA uses as
fitness in the benchmark papers). Accuracies are percentages.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from search_spaces.core.benchmark import MetricSpec
from search_spaces.core.errors import ArchitectureNotInBenchmarkError, UnknownNameError
from search_spaces.nb201.nats import nats_metrics, open_nats_api
from search_spaces.nb201.space import NB201Cell, NB201Space, format_cell
from search_spaces.nb201.table import embedded_table

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")
SPLITS: tuple[str, ...] = ("test", "valid", "valid_12ep")

# (dataset, split) -> column of the embedded table; combinations absent here are not in the table.
METRIC_COLUMNS: dict[tuple[str, str], str] = {
    ("cifar10", "test"): "cifar10_test",
    ("cifar10", "valid"): "cifar10_valid",
    ("cifar10", "valid_12ep"): "cifar10_valid_12ep",
    ("cifar100", "test"): "cifar100_test",
    ("imagenet16", "test"): "imagenet16_test",
}
TRAIN_TIME_COLUMN = "train_time_12ep_s"

# The metrics of every NB201 benchmark, in history column order.
NB201_METRICS: tuple[MetricSpec, ...] = nats_metrics(200)
# metric name -> (dataset, split) of the per-dataset accessors
_METRIC_SPLITS: dict[str, tuple[str, str]] = {
    "cifar10_valid": ("cifar10", "valid"),
    "cifar10_test": ("cifar10", "test"),
    "cifar100_valid": ("cifar100", "valid"),
    "cifar100_test": ("cifar100", "test"),
    "imagenet16_valid": ("imagenet16", "valid"),
    "imagenet16_test": ("imagenet16", "test"),
    "cifar10_valid_12ep": ("cifar10", "valid_12ep"),
}


def _check_names(dataset: str, split: str) -> None:
    if dataset not in DATASETS:
        raise UnknownNameError("dataset", dataset, DATASETS)
    if split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)


@runtime_checkable
class NB201Benchmark(Protocol):
    """What a NAS-Bench-201 accuracy source answers. All methods are pure reads."""

    def available(self) -> tuple[tuple[str, str], ...]:
        """The (dataset, split) pairs this source can answer."""

    def accuracy(self, arch: NB201Cell, dataset: str, split: str) -> float:
        """Accuracy (%) of ``arch``.

        Raises:
            UnknownNameError: ``dataset`` or ``split`` is not known, or not in this source.
            ArchitectureNotInBenchmarkError: the source has no record of ``arch``.
        """

    def train_time_12ep(self, arch: NB201Cell) -> float:
        """Seconds to train the 12-epoch CIFAR-10 proxy (what a search budget is charged)."""


class EmbeddedNB201Table:
    """The NAS-Bench-201 table shipped with naswot (no download, all 15,625 cells).

    As a :class:`~search_spaces.core.benchmark.Benchmark`: ``lookup`` gives :data:`NB201_METRICS`,
    NaN for the splits the table lacks (CIFAR-100 and ImageNet16-120 validation).
    """

    name = "nb201-embedded"
    space_name = "nb201"
    metrics = NB201_METRICS
    fitness_names = ("cifar10_valid_12ep", "cifar10_valid")
    default_fitness = "cifar10_valid_12ep"
    cost_name = "train_time_12ep_s"

    def __init__(self, space: NB201Space | None = None) -> None:
        self.space = space or NB201Space()
        table = embedded_table()
        self._columns = {name: table.column(name).to_numpy() for name in table.column_names if name != "arch"}

    def available(self) -> tuple[tuple[str, str], ...]:
        return tuple(METRIC_COLUMNS)

    def column(self, name: str) -> np.ndarray:
        """A whole metric column in index order (read-only view)."""
        if name not in self._columns:
            raise UnknownNameError("column", name, sorted(self._columns))
        array = self._columns[name]
        array.flags.writeable = False
        return array

    def accuracy(self, arch: NB201Cell, dataset: str, split: str) -> float:
        _check_names(dataset, split)
        column = METRIC_COLUMNS.get((dataset, split))
        if column is None:
            known = [f"{d}/{s}" for d, s in METRIC_COLUMNS]
            raise UnknownNameError("metric of the embedded table", f"{dataset}/{split}", known)
        return float(self._columns[column][self.space.index(arch)])

    def train_time_12ep(self, arch: NB201Cell) -> float:
        return float(self._columns[TRAIN_TIME_COLUMN][self.space.index(arch)])

    def params_m(self, arch: NB201Cell) -> float:
        """Parameters (millions) of the benchmark's 10-class network."""
        return float(self._columns["params_m"][self.space.index(arch)])

    def lookup(self, arch: NB201Cell) -> dict[str, float]:
        """Every metric of :data:`NB201_METRICS` for ``arch`` (NaN where the table has no column).

        Raises:
            ArchitectureNotInBenchmarkError: ``arch`` is not an NB201 cell (the table holds every cell).
        """
        if not isinstance(arch, NB201Cell):
            raise ArchitectureNotInBenchmarkError(f"{arch!r} is not a NAS-Bench-201 cell")
        index = self.space.index(arch)
        return {
            m.name: float(self._columns[m.name][index]) if m.name in self._columns else math.nan for m in self.metrics
        }

    def cells(self) -> None:
        """None: the table covers the whole space."""
        return None


# (dataset, split) -> (NATS dataset name, hp, key of get_more_info)
_NATS_QUERIES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("cifar10", "test"): ("cifar10", "200", "test-accuracy"),
    ("cifar10", "valid"): ("cifar10-valid", "200", "valid-accuracy"),
    ("cifar10", "valid_12ep"): ("cifar10-valid", "12", "valid-accuracy"),
    ("cifar100", "test"): ("cifar100", "200", "test-accuracy"),
    ("cifar100", "valid"): ("cifar100", "200", "valid-accuracy"),
    ("cifar100", "valid_12ep"): ("cifar100", "12", "valid-accuracy"),
    ("imagenet16", "test"): ("ImageNet16-120", "200", "test-accuracy"),
    ("imagenet16", "valid"): ("ImageNet16-120", "200", "valid-accuracy"),
    ("imagenet16", "valid_12ep"): ("ImageNet16-120", "12", "valid-accuracy"),
}


class NATSTopologyBenchmark:
    """A user's real NATS-Bench topology directory, behind the same lookups as the embedded table.

    As a :class:`~search_spaces.core.benchmark.Benchmark` it answers every metric of
    :data:`NB201_METRICS` (200-epoch accuracies of all three datasets, mean over seeds).

    Args:
        path: the ``NATS-tss-v1_0-3ffb9-simple`` directory (``meta.pickle.pbz2`` plus one
            ``NNNNNN.pickle.pbz2`` per architecture).

    Raises:
        BenchmarkDataError: the directory is missing or is not a NATS-Bench topology directory.
    """

    def __init__(self, path: str | Path, space: NB201Space | None = None) -> None:
        self.path = Path(path).expanduser()
        self.space = space or NB201Space()
        self._api = open_nats_api(self.path, "tss")
        self._cache: dict[tuple[int, str, str], dict] = {}

    def available(self) -> tuple[tuple[str, str], ...]:
        return tuple(_NATS_QUERIES)

    def _info(self, arch: NB201Cell, dataset: str, hp: str) -> dict:
        text = format_cell(arch)
        index = self._api.query_index_by_arch(text)
        if index is None or index < 0:
            raise ArchitectureNotInBenchmarkError(f"{text} is not in the NATS-Bench directory {str(self.path)!r}")
        key = (int(index), dataset, hp)
        if key not in self._cache:
            try:
                self._cache[key] = self._api.get_more_info(int(index), dataset, hp=hp, is_random=False)
            except (AssertionError, FileNotFoundError) as exc:
                raise ArchitectureNotInBenchmarkError(
                    f"no record of index {index} ({text}) in {str(self.path)!r}: {exc}"
                ) from exc
        return self._cache[key]

    def accuracy(self, arch: NB201Cell, dataset: str, split: str) -> float:
        _check_names(dataset, split)
        nats_dataset, hp, field = _NATS_QUERIES[(dataset, split)]
        return float(self._info(arch, nats_dataset, hp)[field])

    def train_time_12ep(self, arch: NB201Cell) -> float:
        return float(self._info(arch, "cifar10-valid", "12")["train-all-time"])

    name = "nb201-nats-tss"
    space_name = "nb201"
    metrics = NB201_METRICS
    fitness_names = ("cifar10_valid_12ep", "cifar10_valid", "cifar100_valid", "imagenet16_valid")
    default_fitness = "cifar10_valid_12ep"
    cost_name = "train_time_12ep_s"

    def lookup(self, arch: NB201Cell) -> dict[str, float]:
        """Every metric of :data:`NB201_METRICS` for ``arch``.

        Raises:
            ArchitectureNotInBenchmarkError: the directory has no record of ``arch``.
        """
        if not isinstance(arch, NB201Cell):
            raise ArchitectureNotInBenchmarkError(f"{arch!r} is not a NAS-Bench-201 cell")
        out = {name: self.accuracy(arch, *split) for name, split in _METRIC_SPLITS.items()}
        out["train_time_12ep_s"] = self.train_time_12ep(arch)
        index = int(self._api.query_index_by_arch(format_cell(arch)))
        try:
            out["params_m"] = float(self._api.get_cost_info(index, "cifar10-valid")["params"])
        except (AssertionError, FileNotFoundError, KeyError) as exc:
            raise ArchitectureNotInBenchmarkError(
                f"no cost record of index {index} in {str(self.path)!r}: {exc}"
            ) from exc
        return {m.name: out[m.name] for m in self.metrics}

    def cells(self) -> None:
        """None: a NATS-Bench topology directory describes the whole space."""
        return None


def open_nb201_benchmark(path: str | Path | None = None, space: NB201Space | None = None) -> NB201Benchmark:
    """The embedded table when ``path`` is None, else the user's NATS-Bench topology directory."""
    if path is None:
        return EmbeddedNB201Table(space)
    return NATSTopologyBenchmark(path, space)
