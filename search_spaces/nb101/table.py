"""The embedded NAS-Bench-101 table file (``nb101.parquet``; see ``PROVENANCE.md`` beside it).

Every one of the benchmark's 423,624 cells, one row each, sorted by the benchmark's module hash:

==============  ======================  ===================================================================
column          type                    meaning
==============  ======================  ===================================================================
hash            fixed_size_binary(16)   the module hash (the MD5 digest whose 32 hex digits the benchmark keys by)
num_vertices    uint8                   2..7, of the stored (pruned) spec
edges           uint32                  its upper-triangular adjacency: bit ``b`` is entry ``b`` of
                                        ``numpy.triu_indices(num_vertices, 1)`` (row-major order)
ops             uint16                  its interior vertices' op codes (positions in ``OPS``), two bits
                                        each, vertex 1 in bits 0-1
cifar10_test    float32                 CIFAR-10 test accuracy (%) after 108 epochs, mean of the 3 runs
params          int32                   the benchmark's ``trainable_parameters`` of the stored spec
==============  ======================  ===================================================================

The stored spec is the labelling the benchmark itself trained; isomorphic labellings share the hash
but may differ in parameters (the spare output channels go to the first vertices in order), so the
space builds networks from it.

This module only reads the file and imports neither the space nor the benchmark (both use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from search_spaces.core.errors import BenchmarkDataError
from search_spaces.nb101.vocabulary import INPUT, OP_CODE, OPS, OUTPUT

TABLE_FILE = "nb101.parquet"
HASH_BYTES = 16
TABLE_SCHEMA = pa.schema(
    [
        ("hash", pa.binary(HASH_BYTES)),
        ("num_vertices", pa.uint8()),
        ("edges", pa.uint32()),
        ("ops", pa.uint16()),
        ("cifar10_test", pa.float32()),
        ("params", pa.int32()),
    ]
)
_OP_BITS = 2
_HEX_DIGITS = frozenset("0123456789abcdef")  # the benchmark's hashes are lowercase hexdigest()s


def pack_edges(matrix: np.ndarray) -> int:
    """The upper triangle of a square 0/1 ``matrix`` as bits (see the module docstring)."""
    array = np.asarray(matrix)
    bits = array[np.triu_indices(array.shape[0], 1)].astype(bool)
    return int(np.dot(bits, 1 << np.arange(bits.size, dtype=np.int64)))


def unpack_edges(edges: int, num_vertices: int) -> np.ndarray:
    """The ``num_vertices`` x ``num_vertices`` int8 adjacency matrix of packed ``edges`` (a new array)."""
    rows, cols = np.triu_indices(num_vertices, 1)
    matrix = np.zeros((num_vertices, num_vertices), dtype=np.int8)
    matrix[rows, cols] = (int(edges) >> np.arange(rows.size)) & 1
    return matrix


def pack_ops(ops: Sequence[str]) -> int:
    """The op codes of the interior vertices of ``ops`` (``input`` first, ``output`` last) as bits.

    Raises:
        KeyError: an interior op is not one of ``OPS``.
    """
    code = 0
    for position, op in enumerate(ops[1:-1]):
        code |= OP_CODE[op] << (_OP_BITS * position)
    return code


def unpack_ops(code: int, num_vertices: int) -> list[str]:
    """The op names of a cell of ``num_vertices`` vertices (``input`` and ``output`` included)."""
    mask = (1 << _OP_BITS) - 1
    interior = [OPS[(int(code) >> (_OP_BITS * v)) & mask] for v in range(num_vertices - 2)]
    return [INPUT, *interior, OUTPUT]


def _split_key(key: str) -> tuple[int, int] | None:
    """The two 64-bit halves of a hash of 32 lowercase hex digits, or None when ``key`` is not one."""
    if not isinstance(key, str) or len(key) != 2 * HASH_BYTES or not _HEX_DIGITS.issuperset(key):
        return None
    return int(key[:HASH_BYTES], 16), int(key[HASH_BYTES:], 16)


def _column_values(table: pa.Table, name: str) -> np.ndarray:
    """The values of a fixed-width column without nulls, as a read-only numpy view of its buffer
    (``to_numpy`` would import pandas on first use: 0.2 s and 40 MB).

    Raises:
        BenchmarkDataError: the column has nulls.
    """
    column = table.column(name).combine_chunks()
    if column.null_count:
        raise BenchmarkDataError(f"the NB101 table's column {name!r} has {column.null_count} missing values")
    if pa.types.is_fixed_size_binary(column.type):
        dtype = np.dtype((np.uint8, (column.type.byte_width,)))
    else:
        dtype = np.dtype(column.type.to_pandas_dtype())
    values = np.frombuffer(column.buffers()[1], dtype=dtype)[column.offset : column.offset + len(column)]
    values.flags.writeable = False
    return values


class NB101Table:
    """The table's columns as numpy arrays, with lookups by hash.

    Lookups are a binary search of the sorted 64-bit hash prefixes (a handful of comparisons; no
    dict of 423,624 Python strings), so loading stays fast and small.

    Args:
        table: the file's rows (columns of :data:`TABLE_SCHEMA`, sorted by hash).

    Raises:
        BenchmarkDataError: the columns are not :data:`TABLE_SCHEMA`'s or the hashes are not
            strictly increasing.
    """

    def __init__(self, table: pa.Table) -> None:
        if not table.schema.equals(TABLE_SCHEMA):
            raise BenchmarkDataError(f"the NB101 table must have the columns {TABLE_SCHEMA}, got {table.schema}")
        raw = _column_values(table, "hash").reshape(-1)
        halves = raw.view(">u8").reshape(-1, 2)  # big endian: sorts as the hex digits
        self.hi = halves[:, 0].astype(np.uint64)
        self.lo = halves[:, 1].astype(np.uint64)
        if len(self.hi) > 1:
            increasing = (self.hi[1:] > self.hi[:-1]) | ((self.hi[1:] == self.hi[:-1]) & (self.lo[1:] > self.lo[:-1]))
            if not increasing.all():
                raise BenchmarkDataError("the NB101 table's hashes must be unique and sorted")
        self.num_vertices = _column_values(table, "num_vertices")
        self.edges = _column_values(table, "edges")
        self.ops = _column_values(table, "ops")
        self.cifar10_test = _column_values(table, "cifar10_test")
        self.params = _column_values(table, "params")
        for array in (self.hi, self.lo):
            array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.hi)

    def row_of(self, key: str) -> int | None:
        """The row of the cell whose module hash is ``key`` (32 lowercase hex digits), or None."""
        halves = _split_key(key)
        if halves is None:
            return None
        hi, lo = np.uint64(halves[0]), np.uint64(halves[1])
        row = int(np.searchsorted(self.hi, hi))
        while row < len(self.hi) and self.hi[row] == hi:  # a shared 64-bit prefix: compare the rest
            if self.lo[row] == lo:
                return row
            row += 1
        return None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.row_of(key) is not None

    def key_at(self, row: int) -> str:
        """The module hash of ``row`` (32 hex digits)."""
        return f"{int(self.hi[row]):016x}{int(self.lo[row]):016x}"

    def spec_at(self, row: int) -> tuple[np.ndarray, list[str]]:
        """The stored spec of ``row``: its pruned adjacency matrix (a new int8 array) and op names."""
        n = int(self.num_vertices[row])
        return unpack_edges(int(self.edges[row]), n), unpack_ops(int(self.ops[row]), n)

    def stored_spec(self, key: str) -> tuple[np.ndarray, list[str]] | None:
        """The stored spec of the cell whose hash is ``key``, or None when the table has no such row."""
        row = self.row_of(key)
        return None if row is None else self.spec_at(row)


def read_table(path) -> NB101Table:
    """The table of the Parquet file at ``path``.

    Raises:
        BenchmarkDataError: the file is missing or not in the table's format.
    """
    try:  # ParquetFile.read, not pq.read_table: the dataset layer costs 0.2 s and 40 MB more to start
        return NB101Table(pq.ParquetFile(path, memory_map=True).read(use_threads=False))
    except (OSError, pa.ArrowInvalid) as exc:
        raise BenchmarkDataError(f"cannot read the NB101 table {str(path)!r}: {exc}") from exc


@lru_cache(maxsize=1)
def embedded_table() -> NB101Table:
    """The table shipped in the package (read once per process, then shared; treat it as read-only)."""
    with resources.as_file(resources.files("search_spaces.nb101") / TABLE_FILE) as path:
        return read_table(path)
