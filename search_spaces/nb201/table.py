"""The embedded NAS-Bench-201 table file (``nb201.parquet``, see ``PROVENANCE.md`` beside it).

Only reads the file: the space (for its index order) and the benchmark (for its metrics) both use
it, so neither imports the other for it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pyarrow.parquet as pq

TABLE_FILE = "nb201.parquet"


@lru_cache(maxsize=1)
def embedded_table():
    with resources.as_file(resources.files("search_spaces.nb201") / TABLE_FILE) as path:
        return pq.read_table(path)


def embedded_arch_strings() -> list[str]:
    """Cell strings of the embedded table, in benchmark index order."""
    return embedded_table().column("arch").to_pylist()


def embedded_table_frame():
    """The embedded table as a pandas DataFrame (a copy; index column = benchmark index)."""
    return embedded_table().to_pandas()
