"""Atomic file writes: a temporary file in the same directory, fsync, then a rename into place.

A reader (or a resumed run after ``kill -9``) sees either the old file or the whole new one, never a
part; the fsync makes the new content durable before the rename publishes it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    _atomic(path, write)


def write_json_atomic(data: Any, path: Path) -> None:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically (non-JSON values as ``str``)."""
    write_bytes_atomic(json.dumps(data, indent=2, sort_keys=True, default=str).encode(), path)


def write_parquet_atomic(table: Any, path: Path) -> None:
    """Write the pyarrow ``table`` to ``path`` (zstd) atomically."""
    import pyarrow.parquet as pq

    _atomic(path, lambda fh: pq.write_table(table, fh, compression="zstd"))
