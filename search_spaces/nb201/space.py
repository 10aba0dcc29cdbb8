"""The NAS-Bench-201 / NATS-Bench topology search space.

A cell is six op names on the edges of a four-node DAG, in the benchmark's edge order
(1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2), written ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
There are 5**6 = 15,625 cells; their benchmark indices follow the benchmark's own order
(row i of the embedded table).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from search_spaces.core.errors import InvalidArchitectureError
from search_spaces.nb201.ops import NUM_CELLS, NUM_EDGES, OPS

__all__ = ["NUM_CELLS", "NUM_EDGES", "OPS", "NB201Cell", "NB201Space", "cell_from_code", "format_cell", "parse_cell"]

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

_OP_ID = {op: i for i, op in enumerate(OPS)}


@dataclass(frozen=True)
class NB201Cell:
    """An immutable NAS-Bench-201 cell: ``ops[e]`` is the op on edge ``e``."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != NUM_EDGES:
            raise InvalidArchitectureError(f"a NAS-Bench-201 cell has {NUM_EDGES} edges, got {len(self.ops)}")
        for op in self.ops:
            if op not in _OP_ID:
                raise InvalidArchitectureError(f"unknown NAS-Bench-201 op {op!r}; known: {', '.join(OPS)}")

    @property
    def code(self) -> int:
        """Base-5 code of the ops (edge 0 most significant); a dense id in 0..15624, not the benchmark index."""
        value = 0
        for op in self.ops:
            value = value * len(OPS) + _OP_ID[op]
        return value

    def __str__(self) -> str:
        return format_cell(self)


def parse_cell(text: str) -> NB201Cell:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

    Raises:
        InvalidArchitectureError: naming the fault (not a string, wrong number of nodes or edges,
            unknown op, missing or wrong input index).
    """
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"a NAS-Bench-201 cell string is a str, got {type(text).__name__}")
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise InvalidArchitectureError(
            f"a NAS-Bench-201 cell has 3 nodes separated by '+', got {len(nodes)} in {text!r}"
        )
    ops: list[str] = []
    for node, part in enumerate(nodes, start=1):
        if not (part.startswith("|") and part.endswith("|")) or len(part) < 2:
            raise InvalidArchitectureError(f"node {node} of {text!r} must be written |op~i|...|, got {part!r}")
        edges = part[1:-1].split("|")
        if len(edges) != node:
            raise InvalidArchitectureError(f"node {node} of {text!r} must have {node} input edge(s), got {len(edges)}")
        for expected_src, edge in enumerate(edges):
            op, sep, src = edge.partition("~")
            if not sep:
                raise InvalidArchitectureError(f"edge {edge!r} of node {node} in {text!r} lacks '~input'")
            if op not in _OP_ID:
                raise InvalidArchitectureError(f"unknown op {op!r} in {text!r}; known: {', '.join(OPS)}")
            if src != str(expected_src):
                raise InvalidArchitectureError(
                    f"edge {edge!r} of node {node} in {text!r} must read from node {expected_src}, got input {src!r}"
                )
            ops.append(op)
    return NB201Cell(tuple(ops))


def format_cell(cell: NB201Cell) -> str:
    """The canonical benchmark string of ``cell``."""
    o = cell.ops
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def cell_from_code(code: int) -> NB201Cell:
    """Inverse of :attr:`NB201Cell.code`."""
    if not 0 <= code < NUM_CELLS:
        raise InvalidArchitectureError(f"NB201 cell code must be in [0, {NUM_CELLS}), got {code}")
    ops = []
    for _ in range(NUM_EDGES):
        code, digit = divmod(code, len(OPS))
        ops.append(OPS[digit])
    return NB201Cell(tuple(reversed(ops)))


class NB201Space:
    """NAS-Bench-201 cells, their networks, and the benchmark index order.

    Args:
        channels: width ``C`` of the first stage (the benchmark: 16).
        cells_per_stage: ``N`` cells per stage (the benchmark: 5).
    """

    name = "nb201"

    def __init__(self, channels: int = 16, cells_per_stage: int = 5) -> None:
        self.channels = channels
        self.cells_per_stage = cells_per_stage

    # -- strings -------------------------------------------------------------------------
    def parse(self, text: str) -> NB201Cell:
        return parse_cell(text)

    def format(self, arch: NB201Cell) -> str:
        return format_cell(arch)

    # -- benchmark order -----------------------------------------------------------------
    @cached_property
    def _index_of_code(self) -> np.ndarray:
        from search_spaces.nb201.table import embedded_arch_strings

        strings = embedded_arch_strings()
        table = np.full(NUM_CELLS, -1, dtype=np.int32)
        for index, text in enumerate(strings):
            table[parse_cell(text).code] = index
        if (table < 0).any():
            raise InvalidArchitectureError("the embedded NB201 table does not cover all 15,625 cells")
        return table

    @cached_property
    def _code_of_index(self) -> np.ndarray:
        inverse = np.empty(NUM_CELLS, dtype=np.int32)
        inverse[self._index_of_code] = np.arange(NUM_CELLS, dtype=np.int32)
        return inverse

    def index(self, arch: NB201Cell) -> int:
        """Benchmark index (0..15624) of ``arch``."""
        return int(self._index_of_code[arch.code])

    def from_index(self, index: int) -> NB201Cell:
        """The cell at benchmark index ``index``; raises ``InvalidArchitectureError`` out of range."""
        if not 0 <= int(index) < NUM_CELLS:
            raise InvalidArchitectureError(f"NB201 index must be in [0, {NUM_CELLS}), got {index}")
        return cell_from_code(int(self._code_of_index[int(index)]))

    def key(self, arch: NB201Cell) -> str:
        """The benchmark index as a string (the score store's and history's cell key)."""
        return str(self.index(arch))

    @property
    def size(self) -> int:
        return NUM_CELLS

    def __len__(self) -> int:
        return NUM_CELLS

    # -- sampling ------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> NB201Cell:
        """A uniform draw over all 15,625 cells."""
        return NB201Cell(tuple(OPS[i] for i in rng.integers(0, len(OPS), size=NUM_EDGES)))

    def mutate(self, arch: NB201Cell, rng: np.random.Generator) -> NB201Cell:
        """Change the op of one uniformly chosen edge to a different, uniformly chosen op."""
        edge = int(rng.integers(NUM_EDGES))
        current = _OP_ID[arch.ops[edge]]
        new = (current + 1 + int(rng.integers(len(OPS) - 1))) % len(OPS)
        ops = list(arch.ops)
        ops[edge] = OPS[new]
        return NB201Cell(tuple(ops))

    # -- networks ------------------------------------------------------------------------
    def build(self, arch: NB201Cell, num_classes: int) -> nn.Module:
        """The untrained benchmark network (C=16, N=5 unless configured otherwise)."""
        from search_spaces.nb201.network import NB201Network

        return NB201Network(arch.ops, num_classes, self.channels, self.cells_per_stage)
