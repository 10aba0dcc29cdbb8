"""Append-only Parquet datasets: a directory of part files sharing one explicit schema.

``pandas.read_parquet(directory)`` reads such a directory whole. Each flush writes one new part
atomically (:mod:`search_spaces.core.atomic`), so a ``kill -9`` loses at most the rows not yet
flushed and never leaves a broken file. The run history and the training curves are both written
and read here.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from search_spaces.core.atomic import write_parquet_atomic
from search_spaces.core.errors import NaswotError

PART_GLOB = "part-*.parquet"
CORRUPT_DIR = "corrupt-parts"


class PartCorruptError(NaswotError, ValueError):
    """A part file that cannot be read (e.g. a disk fault); ``--resume --repair`` moves it aside."""


class PartsWriter:
    """Buffers rows and writes them as atomic parts under ``directory`` (created if missing).

    Args:
        directory: the dataset directory.
        schema: every part's schema; a row's key outside it is dropped, a missing nullable column is null.
        flush_every / flush_seconds: :meth:`append` flushes when this many rows are buffered or the
            last flush is older than this.
    """

    def __init__(
        self, directory: str | Path, schema: pa.Schema, flush_every: int = 500, flush_seconds: float = 5.0
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self.rows_written = 0

    def append(self, row: dict[str, Any]) -> None:
        """Buffer ``row`` (not mutated); flushes by size or age."""
        self._rows.append(row)
        if len(self._rows) >= self.flush_every or time.monotonic() - self._last_flush > self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one new part (no-op when empty)."""
        self._last_flush = time.monotonic()
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=self.schema)
        write_parquet_atomic(table, self.directory / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet")
        self.rows_written += len(self._rows)
        self._rows.clear()

    def __enter__(self) -> PartsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def _part_rows(path: Path) -> str:
    try:
        return f"{pq.ParquetFile(path).metadata.num_rows} rows"
    except (OSError, pa.ArrowException):
        return "an unreadable row count"


def read_parts(directory: str | Path, schema: pa.Schema | None = None, repair: bool = False) -> list[pa.Table]:
    """Every readable part of ``directory`` in name (time) order; ``schema`` None: each part's own.

    With ``repair``, a corrupt part is moved to ``directory/../corrupt-parts/`` (kept for
    inspection) and skipped.

    Raises:
        PartCorruptError: a part cannot be read and ``repair`` is off (names the file and its rows).
    """
    directory = Path(directory)
    tables = []
    for part in sorted(directory.glob(PART_GLOB)):
        try:
            tables.append(pq.read_table(part, schema=schema))
        except (OSError, pa.ArrowException) as exc:
            if not repair:
                raise PartCorruptError(
                    f"{directory.name} part {part.name} of {str(directory.parent)!r} is corrupt (it held "
                    f"{_part_rows(part)}): {exc}; resume with --repair to move it aside and replay the rest"
                ) from exc
            aside = directory.parent / CORRUPT_DIR
            aside.mkdir(exist_ok=True)
            os.replace(part, aside / part.name)
    return tables


def has_parts(directory: str | Path) -> bool:
    """Whether ``directory`` exists and holds at least one part."""
    directory = Path(directory)
    return directory.is_dir() and any(directory.glob(PART_GLOB))
