"""The NAS-Bench-101 search space (Ying et al., ICML 2019).

A cell is a DAG of at most 7 vertices given by an upper-triangular 0/1 adjacency matrix and one op
per vertex: vertex 0 is ``input``, the last vertex ``output``, the others one of
``conv3x3-bn-relu``, ``conv1x1-bn-relu`` and ``maxpool3x3``. As in the benchmark, a cell is
*pruned* (vertices that are not on an input-to-output path are removed) and then must have at most
7 vertices and 9 edges. :class:`NB101Cell` always holds the pruned form.

The string form is ``ROWS|OPS``: the matrix rows as 0/1 digits joined by ``/``, then the op names
joined by ``,``, e.g. ``011/001/000|input,conv3x3-bn-relu,output``.

``key(cell)`` is the benchmark's own isomorphism-invariant hash (an iterated, Weisfeiler-Lehman
style MD5 hash of every vertex's in/out degree and op), so that lookups in the official
``nasbench_only108.tfrecord`` work; isomorphic cells share it. The algorithm is described in the
benchmark's ``nasbench/lib/graph_util.py``; this is an independent implementation.

Sampling and mutation are the benchmark's own (``random_spec`` and ``mutate_spec`` of the nasbench
repository's ``NASBench.ipynb``, the random search and regularised evolution of the paper; see
:func:`random_cell` and :func:`mutate_cell`): a uniformly random 7x7 upper triangle and ops until
the pruned cell is valid; a mutation flips each possible edge with probability 1/7 and changes each
of the 5 interior ops with probability 1/5, until the child is valid (here also: until it is not
isomorphic to the parent).

:meth:`NB101Space.build` builds the network of the benchmark's *stored* spec of the cell (the
embedded table's matrix and ops for its hash, ``search_spaces.nb101.table``), so that its parameter
count is the benchmark's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from search_spaces.core.errors import InvalidArchitectureError
from search_spaces.nb101.table import embedded_table
from search_spaces.nb101.vocabulary import INPUT, MAX_EDGES, MAX_VERTICES, NUM_CELLS, OP_CODE, OPS, OUTPUT

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

DEFAULT_STEM_CHANNELS = 128


def _as_matrix(matrix) -> np.ndarray:
    try:
        array = np.asarray(matrix, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise InvalidArchitectureError(f"an NB101 adjacency matrix must be integers: {exc}") from None
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise InvalidArchitectureError(f"an NB101 adjacency matrix must be square, got shape {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise InvalidArchitectureError("an NB101 adjacency matrix holds only 0 and 1")
    if np.tril(array).any():
        raise InvalidArchitectureError("an NB101 adjacency matrix must be strictly upper triangular (a DAG in order)")
    return array


def prune(matrix, ops: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Remove the vertices that are not on a path from the input to the output, as the benchmark does.

    Returns the pruned matrix and ops (new arrays; the arguments are not changed).

    Raises:
        InvalidArchitectureError: the matrix is not a square strictly upper-triangular 0/1 matrix,
            ``ops`` has the wrong length, or the input does not reach the output.
    """
    array = _as_matrix(matrix)
    n = array.shape[0]
    if len(ops) != n:
        raise InvalidArchitectureError(f"an NB101 cell with {n} vertices needs {n} ops, got {len(ops)}")
    if n < 2:
        raise InvalidArchitectureError("an NB101 cell has at least an input and an output vertex")
    reach_in = np.zeros(n, dtype=bool)
    reach_in[0] = True
    for v in range(n):  # vertices are in topological order
        if reach_in[v]:
            reach_in[np.flatnonzero(array[v])] = True
    reach_out = np.zeros(n, dtype=bool)
    reach_out[n - 1] = True
    for v in range(n - 1, -1, -1):
        if reach_out[v]:
            reach_out[np.flatnonzero(array[:, v])] = True
    keep = np.flatnonzero(reach_in & reach_out)
    if not reach_in[n - 1]:
        raise InvalidArchitectureError("invalid NB101 cell: the input does not reach the output")
    return array[np.ix_(keep, keep)].copy(), [ops[int(i)] for i in keep]


def check_pruned(matrix: np.ndarray, ops: Sequence[str]) -> None:
    """Check the benchmark's limits on a pruned cell; raise ``InvalidArchitectureError`` naming the fault."""
    n = matrix.shape[0]
    if n > MAX_VERTICES:
        raise InvalidArchitectureError(f"an NB101 cell has at most {MAX_VERTICES} vertices, got {n}")
    edges = int(matrix.sum())
    if edges > MAX_EDGES:
        raise InvalidArchitectureError(f"an NB101 cell has at most {MAX_EDGES} edges, got {edges}")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise InvalidArchitectureError(f"an NB101 cell's first op is {INPUT!r} and its last {OUTPUT!r}, got {ops}")
    for op in ops[1:-1]:
        if op not in OP_CODE:
            raise InvalidArchitectureError(f"unknown NB101 op {op!r}; known: {', '.join(OPS)}")


def graph_hash(matrix, labels: Sequence[int]) -> str:
    """The benchmark's isomorphism-invariant MD5 fingerprint of a labelled DAG.

    Each vertex starts from the hash of ``(out-degree, in-degree, label)``; then, as many times as
    there are vertices, it becomes the hash of its sorted in-neighbour hashes, its sorted
    out-neighbour hashes and its own hash. The fingerprint hashes the sorted vertex hashes.
    ``labels`` are -1 for the input, -2 for the output and the op's position in :data:`OPS`.
    """
    array = np.asarray(matrix)
    n = array.shape[0]
    ins = array.sum(axis=0).tolist()
    outs = array.sum(axis=1).tolist()
    hashes = [hashlib.md5(str((outs[v], ins[v], int(labels[v]))).encode()).hexdigest() for v in range(n)]
    preds = [np.flatnonzero(array[:, v]).tolist() for v in range(n)]
    succs = [np.flatnonzero(array[v]).tolist() for v in range(n)]
    for _ in range(n):
        hashes = [
            hashlib.md5(
                (
                    "".join(sorted(hashes[w] for w in preds[v]))
                    + "|"
                    + "".join(sorted(hashes[w] for w in succs[v]))
                    + "|"
                    + hashes[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return hashlib.md5(str(sorted(hashes)).encode()).hexdigest()


@dataclass(frozen=True)
class NB101Cell:
    """A pruned, valid NAS-Bench-101 cell (make one with :func:`make_cell` or ``NB101Space.parse``).

    ``matrix`` is a tuple of 0/1 row tuples, ``ops`` the op names (``input`` first, ``output`` last).
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        array = _as_matrix(self.matrix)
        pruned, _ = prune(array, self.ops)
        if pruned.shape != array.shape:
            raise InvalidArchitectureError("NB101Cell holds a pruned cell; build it with make_cell(matrix, ops)")
        check_pruned(array, self.ops)

    @property
    def array(self) -> np.ndarray:
        """The adjacency matrix as a new int8 array."""
        return np.array(self.matrix, dtype=np.int8)

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return int(sum(map(sum, self.matrix)))

    def labels(self) -> list[int]:
        """The hash labels: -1 input, -2 output, else the op's position in :data:`OPS`."""
        return [-1] + [OP_CODE[op] for op in self.ops[1:-1]] + [-2]

    @cached_property
    def _module_hash(self) -> str:
        return graph_hash(self.array, self.labels())

    def hash(self) -> str:
        """The benchmark's module hash (equal for isomorphic cells; computed once per cell object)."""
        return self._module_hash

    def __str__(self) -> str:
        return format_cell(self)


def make_cell(matrix, ops: Sequence[str]) -> NB101Cell:
    """Prune ``(matrix, ops)`` as the benchmark does and return the cell.

    Raises:
        InvalidArchitectureError: not a DAG matrix, the input does not reach the output, or the pruned
            cell breaks the benchmark's limits (7 vertices, 9 edges, known ops).
    """
    pruned, kept = prune(matrix, list(ops))
    check_pruned(pruned, kept)
    return NB101Cell(tuple(tuple(int(x) for x in row) for row in pruned), tuple(kept))


def format_cell(cell: NB101Cell) -> str:
    """``ROWS|OPS`` (see the module docstring)."""
    rows = "/".join("".join(str(x) for x in row) for row in cell.matrix)
    return f"{rows}|{','.join(cell.ops)}"


def parse_cell(text: str) -> NB101Cell:
    """Parse ``ROWS|OPS``; the cell is pruned. Raises ``InvalidArchitectureError`` naming the fault."""
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"an NB101 cell string is a str, got {type(text).__name__}")
    rows_text, sep, ops_text = text.strip().partition("|")
    if not sep:
        raise InvalidArchitectureError(f"an NB101 cell is written ROWS|OPS, got {text!r}")
    rows = rows_text.split("/")
    if any(len(r) != len(rows) or not set(r) <= {"0", "1"} for r in rows):
        raise InvalidArchitectureError(f"the rows of {text!r} must be {len(rows)} strings of {len(rows)} 0/1 digits")
    matrix = [[int(c) for c in r] for r in rows]
    return make_cell(matrix, ops_text.split(","))


def _padded(cell: NB101Cell, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """The cell as a 7-vertex matrix: unconnected vertices with random ops inserted before the output."""
    n = cell.num_vertices
    matrix = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
    body = cell.array.astype(np.int64)
    index = list(range(n - 1)) + [MAX_VERTICES - 1]  # old vertex -> new vertex
    matrix[np.ix_(index, index)] = body
    ops = list(cell.ops[:-1]) + [OPS[int(i)] for i in rng.integers(len(OPS), size=MAX_VERTICES - n)] + [OUTPUT]
    return matrix, ops


def random_cell(rng: np.random.Generator) -> NB101Cell:
    """The benchmark's random cell (``random_spec`` of the nasbench repository's ``NASBench.ipynb``).

    Each of the 21 entries above the diagonal of a 7x7 matrix is 0 or 1 with probability 1/2, each
    of the 5 interior vertices gets one of the 3 ops uniformly; drawn again until the pruned cell is
    valid (the input reaches the output, at most 9 edges). Every valid cell is in the benchmark.

    This is not uniform over the benchmark's cells: pruning makes small cells far more likely (of
    3,000 draws, 10 % were the bare input-to-output cell and 0.2 % had 7 vertices, against 85 % of
    the benchmark's cells). :func:`uniform_cell` draws uniformly from the benchmark instead.
    """
    while True:
        matrix = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
        ops = [INPUT] + [OPS[int(i)] for i in rng.integers(len(OPS), size=MAX_VERTICES - 2)] + [OUTPUT]
        try:
            return make_cell(matrix, ops)
        except InvalidArchitectureError:
            continue


def uniform_cell(rng: np.random.Generator) -> NB101Cell:
    """A cell drawn uniformly from the benchmark's 423,624 (the stored spec of a uniformly random row
    of the embedded table), as the NASWOT paper's code draws NAS-Bench-101 cells.

    Raises:
        BenchmarkDataError: the embedded table file cannot be read.
    """
    table = embedded_table()
    return make_cell(*table.spec_at(int(rng.integers(len(table)))))


def mutate_cell(parent: NB101Cell, rng: np.random.Generator, rate: float = 1.0) -> NB101Cell:
    """The benchmark's regularised-evolution mutation (``mutate_spec`` of ``NASBench.ipynb``, whose
    mutation rate is the ``p`` of the paper's Figure 8; the notebook's default, and this space's, is 1).

    On the parent's 7-vertex spec, each of the 21 possible edges flips with probability
    ``rate / 7`` (in expectation ``rate`` times 3 edges flip, most of them on vertices that pruning
    then drops), and each of the 5 interior vertices changes its op to one of the other two with
    probability ``rate / 5`` (in expectation ``rate`` ops change). The whole draw is repeated until
    the pruned child is valid (so it is in the benchmark, which holds every valid cell) and, unlike
    the notebook, not isomorphic to the parent (a different hash), so that every mutation is a new
    cell. The parent is kept pruned here, so its spec is rebuilt as the notebook's would be after
    pruning: its vertices keep their order and unconnected vertices with random ops are inserted
    before the output, so that a mutation can grow the cell again. ``parent`` is not changed.

    Raises:
        ValueError: ``rate`` is not positive.
    """
    if not rate > 0:
        raise ValueError(f"the mutation rate must be positive, got {rate}")
    parent_key = parent.hash()
    base, base_ops = _padded(parent, rng)
    n = MAX_VERTICES
    while True:
        flips = np.triu(rng.random((n, n)) < rate / n, 1)
        matrix = np.where(flips, 1 - base, base)
        ops = list(base_ops)
        for v in range(1, n - 1):
            if rng.random() < rate / (n - 2):
                others = [o for o in OPS if o != ops[v]]
                ops[v] = others[int(rng.integers(len(others)))]
        try:
            child = make_cell(matrix, ops)
        except InvalidArchitectureError:
            continue
        if child.hash() != parent_key:
            return child


class NB101Space:
    """NAS-Bench-101 cells and their networks (``nasbench_pytorch``'s ``Network``).

    Args:
        stem_channels: output channels of the stem convolution (the benchmark: 128).
        num_stacks: stacks of cells (3), each after the first starting with a 2x2 max-pool.
        modules_per_stack: cells per stack (3).
    """

    name = "nb101"

    def __init__(
        self, stem_channels: int = DEFAULT_STEM_CHANNELS, num_stacks: int = 3, modules_per_stack: int = 3
    ) -> None:
        if stem_channels < 1 or num_stacks < 1 or modules_per_stack < 1:
            raise ValueError("stem_channels, num_stacks and modules_per_stack must be positive")
        self.stem_channels = int(stem_channels)
        self.num_stacks = int(num_stacks)
        self.modules_per_stack = int(modules_per_stack)

    def parse(self, text: str) -> NB101Cell:
        return parse_cell(text)

    def format(self, arch: NB101Cell) -> str:
        return format_cell(arch)

    def key(self, arch: NB101Cell) -> str:
        """The benchmark's module hash (32 hex digits)."""
        return arch.hash()

    @property
    def size(self) -> int:
        """423,624: the benchmark's unique cells."""
        return NUM_CELLS

    def sample(self, rng: np.random.Generator) -> NB101Cell:
        """A cell drawn uniformly from the benchmark's 423,624 (see :func:`uniform_cell`), as the
        NASWOT paper's code draws them and as the SearchSpace contract asks. The NAS-Bench-101
        paper's own random draw (:func:`random_cell`, :meth:`sample_benchmark_rule`) is heavily
        skewed towards small cells."""
        return uniform_cell(rng)

    def sample_uniform(self, rng: np.random.Generator) -> NB101Cell:
        """The same as :meth:`sample`."""
        return uniform_cell(rng)

    def sample_benchmark_rule(self, rng: np.random.Generator) -> NB101Cell:
        """The NAS-Bench-101 paper's random cell (see :func:`random_cell`: random matrix and ops until valid)."""
        return random_cell(rng)

    # -- benchmark order (an IndexedSpace: row i of the embedded table, the benchmark's hash order) --
    def index(self, arch: NB101Cell) -> int:
        """The cell's row in the benchmark's hash order (0..423,623).

        Raises:
            InvalidArchitectureError: the cell is not one of the benchmark's (cannot happen for a valid cell).
        """
        row = embedded_table().row_of(arch.hash())
        if row is None:
            raise InvalidArchitectureError(f"NB101 cell {format_cell(arch)} is not among the benchmark's cells")
        return int(row)

    def from_index(self, index: int) -> NB101Cell:
        """The cell (its stored spec) at row ``index`` of the benchmark's hash order."""
        table = embedded_table()
        if not 0 <= int(index) < len(table):
            raise InvalidArchitectureError(f"NB101 index must be in [0, {len(table)}), got {index}")
        return make_cell(*table.spec_at(int(index)))

    def mutate(self, arch: NB101Cell, rng: np.random.Generator) -> NB101Cell:
        """The benchmark's mutation at rate 1 (see :func:`mutate_cell`): a valid cell of another hash."""
        return mutate_cell(arch, rng)

    def stored_spec(self, arch: NB101Cell) -> tuple[np.ndarray, list[str]]:
        """The benchmark's own labelling of ``arch``: the embedded table's matrix and ops for its hash.

        Isomorphic cells share the hash, but the benchmark's network gives the output's spare
        channels to the first vertices in order, so relabelling can move a few thousand parameters;
        the stored spec is the one the benchmark trained and counted. A cell the table lacks (none,
        for a valid cell: the table holds them all) is returned as it is. Returns new arrays.

        Raises:
            BenchmarkDataError: the embedded table file cannot be read.
        """
        stored = embedded_table().stored_spec(arch.hash())
        return stored if stored is not None else (arch.array, list(arch.ops))

    def build(self, arch: NB101Cell, num_classes: int) -> nn.Module:
        """The benchmark's network of ``arch``'s stored spec (:meth:`stored_spec`; see
        ``search_spaces.nb101.network``): at stem width 128 its parameter count is the table's
        ``trainable_parameters``. Initialisation draws from torch's global generator.

        Raises:
            ValueError: ``num_classes`` is not positive.
            InvalidArchitectureError: ``arch`` is not an :class:`NB101Cell`.
        """
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if not isinstance(arch, NB101Cell):
            raise InvalidArchitectureError(f"expected an NB101Cell, got {type(arch).__name__}")
        from search_spaces.nb101.network import build_network

        matrix, ops = self.stored_spec(arch)
        return build_network(matrix, ops, num_classes, self.stem_channels, self.num_stacks, self.modules_per_stack)
