"""A user's NDS json file (``DARTS.json``, ``ENAS.json``, ``Amoeba.json``, ``NASNet.json``,
``PNAS.json`` from the NDS data release) as a :class:`~search_spaces.benchmarks.base.Benchmark`.

The file is a list of records (or an object whose ``top`` and ``mid`` lists are read together, as
some releases and the NASWOT code do). Each record has ``net`` (``genotype`` with ``normal``,
``normal_concat``, ``reduce``, ``reduce_concat``; ``width``; ``depth``; ...) and ``test_ep_top1``,
the test top-1 *error* (%) after each epoch; optional fields ``train_ep_top1``, ``min_test_top1``,
``params`` and ``flops`` are read when present. Accuracy = 100 - final test top-1 error, as NDS and
the NASWOT paper report. The metric names follow the project's ``<dataset>_<split>`` convention
(``cifar10_test``; NDS has no validation split), so ``orchestrator.correlate --dataset cifar10`` finds
them. The ImageNet files (``*_in.json``) describe ImageNet networks, which this module does not build.

Cells are keyed by :meth:`NDSSpace.key` (genotype, width and depth); when several records share a
key, the first one is used and :attr:`NDSJsonBenchmark.duplicates` counts the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from search_spaces.core.benchmark import MetricSpec
from search_spaces.core.errors import ArchitectureNotInBenchmarkError, BenchmarkDataError, InvalidArchitectureError
from search_spaces.nds.space import NDSCell, NDSSpace

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "cifar10_test",
        "%",
        "CIFAR-10 test accuracy after the last training epoch (100 - test_ep_top1[-1])",
        "C10 test",
        reported=True,
    ),
    MetricSpec("cifar10_test_best", "%", "best CIFAR-10 test accuracy over the epochs (100 - min test top-1 error)"),
    MetricSpec("cifar10_train", "%", "CIFAR-10 training accuracy after the last epoch (100 - train_ep_top1[-1])"),
    MetricSpec("params_m", "M", "parameters of the trained network, millions (record field params / 1e6)"),
    MetricSpec("flops_m", "M", "FLOPs of the trained network, millions (record field flops / 1e6)"),
)


def _error_list(record: Mapping[str, Any], field: str, where: str) -> list[float] | None:
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, (int, float)) for v in value):
        raise BenchmarkDataError(f"{where}: {field} must be a non-empty list of numbers")
    return [float(v) for v in value]


def _number(record: Mapping[str, Any], field: str, scale: float) -> float:
    value = record.get(field)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / scale
    return math.nan


def _metrics_of(record: Mapping[str, Any], where: str) -> dict[str, float]:
    test = _error_list(record, "test_ep_top1", where)
    if test is None:
        raise BenchmarkDataError(f"{where}: the record has no test_ep_top1 (per-epoch test top-1 error)")
    train = _error_list(record, "train_ep_top1", where)
    best = record.get("min_test_top1")
    best_err = float(best) if isinstance(best, (int, float)) and not isinstance(best, bool) else min(test)
    return {
        "cifar10_test": 100.0 - test[-1],
        "cifar10_test_best": 100.0 - best_err,
        "cifar10_train": 100.0 - train[-1] if train else math.nan,
        "params_m": _number(record, "params", 1e6),
        "flops_m": _number(record, "flops", 1e6),
    }


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of an NDS json file (a list, or ``top`` + ``mid`` of an object).

    Raises:
        BenchmarkDataError: the file is missing, is not json, or holds no list of records.
    """
    p = Path(path)
    if not p.is_file():
        raise BenchmarkDataError(f"NDS json file not found: {p}")
    try:
        with p.open("rb") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchmarkDataError(f"{p} is not a readable NDS json file: {exc}") from None
    if isinstance(data, dict):
        parts = [data[k] for k in ("top", "mid") if isinstance(data.get(k), list)]
        if not parts:
            raise BenchmarkDataError(f"{p}: an NDS json object must hold 'top'/'mid' record lists")
        data = [r for part in parts for r in part]
    if not isinstance(data, list) or not data:
        raise BenchmarkDataError(f"{p}: an NDS json file is a non-empty list of records")
    return data


class NDSJsonBenchmark:
    """The records of one NDS json file, over one NDS space.

    Args:
        path: the json file.
        space: the :class:`NDSSpace` whose genotypes the file holds (its width and depth are only
            used for records that lack them).

    Raises:
        BenchmarkDataError: unreadable file, a record without ``net``/``test_ep_top1``, or a genotype
            that is not of ``space`` (the message gives the record number and the fault).
    """

    metrics: tuple[MetricSpec, ...] = METRICS
    fitness_names: tuple[str, ...] = ("cifar10_test", "cifar10_test_best")
    default_fitness: str = "cifar10_test"
    cost_name: str | None = None

    def __init__(self, path: str | Path, space: NDSSpace) -> None:
        self.path = Path(path)
        self.space = space
        self.space_name = space.name
        self.name = f"{space.name}-json"
        records = load_records(self.path)
        self._rows: dict[str, dict[str, float]] = {}
        self._cells: list[NDSCell] = []
        self.duplicates = 0
        for n, record in enumerate(records):
            where = f"{self.path.name} record {n}"
            if not isinstance(record, Mapping) or not isinstance(record.get("net"), Mapping):
                raise BenchmarkDataError(f"{where}: a record is an object with a 'net' object")
            try:
                cell = space.from_record(record["net"])
            except InvalidArchitectureError as exc:
                raise BenchmarkDataError(f"{where} is not a {space.name} network: {exc}") from None
            metrics = _metrics_of(record, where)
            key = space.key(cell)
            if key in self._rows:
                self.duplicates += 1
                continue
            self._rows[key] = metrics
            self._cells.append(cell)

    def __len__(self) -> int:
        return len(self._cells)

    def lookup(self, arch: NDSCell) -> dict[str, float]:
        """Every metric of ``arch`` (NaN where its record lacks the field); a new dict each call.

        Raises:
            ArchitectureNotInBenchmarkError: no record has this genotype at this width and depth.
            InvalidArchitectureError: ``arch`` is not a cell of this space.
        """
        key = self.space.key(self.space.validate(arch))
        row = self._rows.get(key)
        if row is None:
            raise ArchitectureNotInBenchmarkError(
                f"{self.path.name} holds no {self.space_name} network with this genotype at width "
                f"{arch.width}, depth {arch.depth} (key {key})"
            )
        return dict(row)

    def cells(self) -> Sequence[NDSCell]:
        """The distinct networks of the file, in file order."""
        return tuple(self._cells)


def open_nds_benchmark(path: str | Path | None, space: NDSSpace) -> NDSJsonBenchmark | None:
    """The benchmark of the user's NDS json ``path``, or ``None`` without one (score-only search).

    Raises:
        BenchmarkDataError: see :class:`NDSJsonBenchmark`.
    """
    if path is None:
        return None
    return NDSJsonBenchmark(path, space)
