"""The run history: one Parquet row per scored or evaluated candidate, append-only.

``RUN_DIR/history.parquet`` is a *directory* of part files sharing one explicit schema
(:mod:`search_spaces.core.parts`), so ``pandas.read_parquet("RUN_DIR/history.parquet")`` reads it
whole. The schema is the fixed columns plus one float column per metric of the run's oracle
(:func:`history_schema`): the benchmark's metrics for a lookup run, the trained accuracy for a Tune
run, none for a score-only space. ``RUN_DIR/config.json`` holds the resolved configuration, the
library versions, the seeds and the metric specs; ``RUN_DIR/curves.parquet`` the per-epoch
curves of a Tune run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from search_spaces.core.parts import PartCorruptError, PartsWriter, has_parts, read_parts
from search_spaces.core.records import Result, Trial, result_fields

HISTORY_DIR = "history.parquet"
CURVES_DIR = "curves.parquet"
FRONT_DIR = "front.parquet"  # the Pareto front a multi-objective searcher ended each seed with
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

HistoryCorruptError = PartCorruptError  # a history part that cannot be read (``--resume --repair``)


def history_schema(metric_names: Sequence[str] = ()) -> pa.Schema:
    """The history schema of a run whose oracle reports ``metric_names`` (float columns, placed
    after ``fitness_name``). Raises ``ValueError`` for a metric name that clashes with a fixed column."""
    clash = sorted(set(metric_names) & BASE_COLUMNS)
    if clash:
        raise ValueError(f"metric names clash with history columns: {', '.join(clash)}")
    return pa.schema([*_BASE_FIELDS, *[(name, pa.float64()) for name in metric_names], *_TAIL_FIELDS])


BASE_SCHEMA = history_schema()  # the fixed columns: the schema of every history, before its metrics


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
) -> dict[str, Any]:
    """The history row of one told trial: its run context, ``trial.fields()`` and
    ``result_fields(result)`` (every metric the result carries; :class:`HistoryWriter` fills the
    run's other metric columns with NaN). ``incumbent`` is the searcher's ``best()`` trial id after it.

    Raises:
        ValueError: a metric of the result clashes with a fixed column.
    """
    clash = sorted(set(result.metrics) & BASE_COLUMNS)
    if clash:
        raise ValueError(f"metric {clash[0]!r} clashes with a history column")
    trial_fields = trial.fields()
    del trial_fields["prefetchable"]  # how the driver may schedule it, not what it is
    return {
        "run_id": run_id,
        "algorithm": algorithm,
        "seed": seed,
        "tell_order": tell_order,
        **trial_fields,
        "arch_key": str(arch_key),
        "fitness_name": fitness_name,
        **result_fields(result),
        "sim_start_s": sim_start_s,
        "sim_end_s": sim_end_s,
        "wall_s": wall_s,
        "incumbent": incumbent,
    }


class HistoryWriter(PartsWriter):
    """Writes history rows as atomic parts under ``run_dir/history.parquet/``.

    ``metric_names``: the run's metric columns (its oracle's); a row's missing metric is written as
    NaN, keys outside the schema are dropped.
    """

    def __init__(
        self,
        run_dir: str | Path,
        flush_every: int = 500,
        flush_seconds: float = 5.0,
        metric_names: Sequence[str] = (),
    ) -> None:
        self.metric_names = tuple(metric_names)
        super().__init__(Path(run_dir) / HISTORY_DIR, history_schema(self.metric_names), flush_every, flush_seconds)

    def append(self, row: dict[str, Any]) -> None:
        """Buffer ``row``; mutates it: a missing metric column is set to NaN."""
        for name in self.metric_names:
            row.setdefault(name, math.nan)
        super().append(row)


def load_history(run_dir: str | Path, repair: bool = False):
    """The whole history of ``run_dir`` as a pandas DataFrame sorted by (seed, tell_order), with
    whatever metric columns its parts hold (see :func:`metric_columns`); an empty history has the
    fixed columns only.

    ``repair``: move corrupt parts aside instead of raising (see :func:`~search_spaces.core.parts.read_parts`).

    Raises:
        HistoryCorruptError: a part cannot be read (without ``repair``).
        FileNotFoundError: ``run_dir`` has no history.
    """
    directory = Path(run_dir) / HISTORY_DIR
    if not directory.is_dir():
        raise FileNotFoundError(f"no history at {str(directory)!r}")
    tables = read_parts(directory, None, repair) if has_parts(directory) else []
    if not tables:
        return BASE_SCHEMA.empty_table().to_pandas()
    frame = pa.concat_tables(tables, promote_options="default").to_pandas()
    frame = frame.drop_duplicates(subset=["seed", "trial_id"], keep="first")
    return frame.sort_values(["seed", "tell_order"], kind="stable").reset_index(drop=True)


def load_curves(run_dir: str | Path, repair: bool = False):
    """``RUN_DIR/curves.parquet`` (a Tune run's per-epoch rows) as a DataFrame sorted by
    (seed, trial_id, epoch, attempt).

    Raises:
        FileNotFoundError: the run has no curves.
        HistoryCorruptError: a part cannot be read (without ``repair``).
    """
    directory = Path(run_dir) / CURVES_DIR
    if not has_parts(directory):
        raise FileNotFoundError(f"no curves at {str(directory)!r}")
    frame = pa.concat_tables(read_parts(directory, None, repair), promote_options="default").to_pandas()
    return frame.sort_values(["seed", "trial_id", "epoch", "attempt"], kind="stable").reset_index(drop=True)


FRONT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("seed", pa.int64()),
        ("trial_id", pa.int64()),  # the history's trial id of the front member
        ("arch", pa.string()),
        ("fitness", pa.float64()),  # what the search maximised
        ("cost", pa.float64()),  # what it minimised (the searcher's objective cost)
        ("cost_name", pa.string()),
    ]
)


def load_front(run_dir: str | Path):
    """``RUN_DIR/front.parquet`` (the front each seed of a multi-objective run ended with) as a
    DataFrame sorted by (seed, cost); a resumed seed's front is kept once.

    Raises:
        FileNotFoundError: the run wrote no front (a single-objective search).
    """
    directory = Path(run_dir) / FRONT_DIR
    if not has_parts(directory):
        raise FileNotFoundError(f"no front at {str(directory)!r}")
    frame = pa.concat_tables(read_parts(directory)).to_pandas()
    frame = frame.drop_duplicates(subset=["seed", "trial_id"], keep="last")
    return frame.sort_values(["seed", "cost", "trial_id"], kind="stable").reset_index(drop=True)


def read_config(run_dir: str | Path) -> dict:
    """``RUN_DIR/config.json`` as a dict.

    Raises:
        FileNotFoundError: ``run_dir`` has no config (it is not a run directory).
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a naswot run directory: it has no {CONFIG_FILE}")
    return json.loads(path.read_text())
