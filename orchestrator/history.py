"""The run history: one Parquet row per scored or evaluated candidate, append-only.

``RUN_DIR/history.parquet`` is a *directory* of part files sharing one explicit schema, so
``pandas.read_parquet("RUN_DIR/history.parquet")`` reads it whole. The schema is the fixed columns
plus one float column per metric of the run's benchmark (:func:`history_schema`; NB201's six
accuracies and its 12-epoch fitness and cost, NB101's 108-epoch accuracies, ...). Each flush writes a new part to a
hidden temporary file and renames it into place: a ``kill -9`` loses at most the rows not yet
flushed and never leaves a broken file. ``RUN_DIR/config.json`` holds the resolved configuration,
the library versions and the seeds.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from search_spaces.core.atomic import write_parquet_atomic
from search_spaces.core.errors import NaswotError
from search_spaces.core.records import METRIC_NAMES, Result, Trial

HISTORY_DIR = "history.parquet"
CONFIG_FILE = "config.json"

_BASE_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("run_id", pa.string()),
    ("algorithm", pa.string()),
    ("seed", pa.int64()),
    ("tell_order", pa.int64()),  # order in which the searcher was told (0, 1, ...)
    ("trial_id", pa.int64()),
    ("arch", pa.string()),
    ("arch_key", pa.string()),  # the space's key of the cell (NB201: benchmark index; NB101: hash)
    ("kind", pa.string()),
    ("phase", pa.string()),
    ("parent", pa.int64()),
    ("score", pa.float64()),
    ("score_s", pa.float64()),
    ("proxy_scores", pa.map_(pa.string(), pa.float64())),
    ("fitness", pa.float64()),
    ("fitness_name", pa.string()),
)
_TAIL_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("cost_s", pa.float64()),
    ("sim_start_s", pa.float64()),
    ("sim_end_s", pa.float64()),
    ("wall_s", pa.float64()),
    ("worker", pa.string()),
    ("cached", pa.bool_()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("incumbent", pa.int64()),  # trial id the searcher would return after this tell (-1: none yet)
)
BASE_COLUMNS: frozenset[str] = frozenset(name for name, _type in _BASE_FIELDS + _TAIL_FIELDS)


def history_schema(metric_names: Sequence[str] = METRIC_NAMES) -> pa.Schema:
    """The history schema of a run whose benchmark reports ``metric_names`` (float columns, placed
    after ``fitness_name``). Raises ``ValueError`` for a metric name that clashes with a fixed column."""
    clash = sorted(set(metric_names) & BASE_COLUMNS)
    if clash:
        raise ValueError(f"metric names clash with history columns: {', '.join(clash)}")
    return pa.schema([*_BASE_FIELDS, *[(name, pa.float64()) for name in metric_names], *_TAIL_FIELDS])


SCHEMA = history_schema(METRIC_NAMES)  # NB201's schema (the default)


def metric_columns(columns) -> list[str]:
    """The metric columns among ``columns`` (a DataFrame's columns, a row's keys): those that are not
    fixed history columns, in order."""
    return [c for c in columns if c not in BASE_COLUMNS]


def history_row(
    *,
    run_id: str,
    algorithm: str,
    seed: int,
    tell_order: int,
    trial: Trial,
    result: Result,
    arch_key: str,
    fitness_name: str,
    sim_start_s: float,
    sim_end_s: float,
    wall_s: float,
    incumbent: int = -1,
    metrics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The history row of one told trial; ``incumbent`` is the searcher's ``best()`` trial id after it.

    ``metrics``: the run's metric column names, each ``result.metrics[name]`` or NaN; None takes every
    metric the result carries (the :class:`HistoryWriter` fills its other metric columns with NaN).
    """
    row = {
        "run_id": run_id,
        "algorithm": algorithm,
        "seed": seed,
        "tell_order": tell_order,
        "trial_id": trial.trial_id,
        "arch": trial.arch,
        "arch_key": str(arch_key),
        "kind": trial.kind.value,
        "phase": trial.phase.value,
        "parent": trial.parent,
        "score": result.score,
        "score_s": result.score_s,
        "proxy_scores": list(result.proxy_scores.items()),
        "fitness": result.fitness,
        "fitness_name": fitness_name,
        "cost_s": result.cost_s,
        "sim_start_s": sim_start_s,
        "sim_end_s": sim_end_s,
        "wall_s": wall_s,
        "worker": result.worker,
        "cached": result.cached,
        "status": result.status.value,
        "error": result.error,
        "incumbent": incumbent,
    }
    for name in result.metrics if metrics is None else metrics:
        if name in BASE_COLUMNS:
            raise ValueError(f"metric {name!r} clashes with a history column")
        row[name] = result.metrics.get(name, math.nan)
    return row


class HistoryWriter:
    """Buffers rows and writes them as atomic Parquet parts under ``run_dir/history.parquet/``.

    ``metric_names``: the benchmark's metric columns (default NB201's); a row's missing metric is
    written as NaN, keys outside the schema are dropped.
    """

    def __init__(
        self,
        run_dir: str | Path,
        flush_every: int = 500,
        flush_seconds: float = 5.0,
        metric_names: Sequence[str] = METRIC_NAMES,
    ) -> None:
        self.metric_names = tuple(metric_names)
        self.schema = history_schema(self.metric_names)
        self.directory = Path(run_dir) / HISTORY_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self.rows_written = 0

    def append(self, row: dict[str, Any]) -> None:
        """Buffer ``row`` (flushed by size or age); mutates ``row``: a missing metric column is set to NaN."""
        for name in self.metric_names:
            row.setdefault(name, math.nan)
        self._rows.append(row)
        if len(self._rows) >= self.flush_every or time.monotonic() - self._last_flush > self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows as one new part (no-op when empty)."""
        self._last_flush = time.monotonic()
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=self.schema)
        write_parquet_atomic(table, self.directory / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet")
        self.rows_written += len(self._rows)
        self._rows.clear()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


class HistoryCorruptError(NaswotError, ValueError):
    """A history part that cannot be read (e.g. a disk fault); ``--resume --repair`` moves it aside."""


CORRUPT_DIR = "corrupt-parts"


def _part_rows(path: Path) -> str:
    try:
        return f"{pq.ParquetFile(path).metadata.num_rows} rows"
    except (OSError, pa.ArrowException):
        return "an unreadable row count"


def read_parts(directory: Path, schema: pa.Schema | None, repair: bool = False) -> list[pa.Table]:
    """Every readable part of a history directory (``schema`` None: each part's own schema).

    With ``repair``, a corrupt part is moved to ``RUN_DIR/corrupt-parts/`` (kept for inspection)
    and skipped.

    Raises:
        HistoryCorruptError: a part cannot be read and ``repair`` is off (names the file and its rows).
    """
    tables = []
    for part in sorted(directory.glob("part-*.parquet")):
        try:
            tables.append(pq.read_table(part, schema=schema))
        except (OSError, pa.ArrowException) as exc:
            if not repair:
                raise HistoryCorruptError(
                    f"history part {part.name} of {str(directory.parent)!r} is corrupt (it held {_part_rows(part)}): "
                    f"{exc}; resume with --repair to move it aside and replay the rest"
                ) from exc
            aside = directory.parent / CORRUPT_DIR
            aside.mkdir(exist_ok=True)
            os.replace(part, aside / part.name)
    return tables


def load_history(run_dir: str | Path, repair: bool = False):
    """The whole history of ``run_dir`` as a pandas DataFrame sorted by (seed, tell_order), with
    whatever metric columns its parts hold (see :func:`metric_columns`).

    ``repair``: move corrupt parts aside instead of raising (see :func:`read_parts`).

    Raises:
        HistoryCorruptError: a part cannot be read (without ``repair``).
        FileNotFoundError: ``run_dir`` has no history.
    """

    directory = Path(run_dir) / HISTORY_DIR
    parts = sorted(directory.glob("part-*.parquet")) if directory.is_dir() else []
    if not parts:
        if not directory.is_dir():
            raise FileNotFoundError(f"no history at {str(directory)!r}")
        return SCHEMA.empty_table().to_pandas()
    tables = read_parts(directory, None, repair)
    if not tables:
        return SCHEMA.empty_table().to_pandas()
    table = pa.concat_tables(tables, promote_options="default")
    frame = table.to_pandas()
    frame = frame.drop_duplicates(subset=["seed", "trial_id"], keep="first")
    return frame.sort_values(["seed", "tell_order"], kind="stable").reset_index(drop=True)


def read_config(run_dir: str | Path) -> dict:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a naswot run directory: it has no {CONFIG_FILE}")
    return json.loads(path.read_text())
