"""The five NAS cell design spaces of NDS (Radosavovic et al., "On Network Design Spaces for Visual
Recognition", ICCV 2019): DARTS, ENAS, AmoebaNet, NASNet and PNAS.

A cell is a *genotype*: a normal cell and a reduction cell, each a list of ``2k`` (op, input) pairs
for ``k`` nodes. Node ``j`` (0-based) sums ``op_a(input_a) + op_b(input_b)``; an input is 0 or 1
(the outputs of the two previous cells) or ``2 + i`` for an earlier node ``i < j``. The cell's
output concatenates some nodes (``normal_concat`` / ``reduce_concat``, numbered like inputs).

The spaces differ in their op sets, node counts and output rule (NDS, Table 1):

=========  =====  =====  ==========================================================
space      ops    nodes  output concatenates
=========  =====  =====  ==========================================================
DARTS      8      4      all nodes
ENAS       5      5      the "loose" nodes (not an input of another node of the cell)
AmoebaNet  8      5      the loose nodes
NASNet     13     5      the loose nodes
PNAS       8      5      all nodes
=========  =====  =====  ==========================================================

Op names and orders are those of ``pycls/models/nas/genotypes.py``. Sampling follows NDS: for node
``j`` each of its two inputs is drawn uniformly from the ``j + 2`` earlier states (so both may be
the same) and each op uniformly from the space's op set (for DARTS this includes ``none``, as the
op set counts 8); there are ``o^(2k) ((k+1)!)^2`` choices per cell.

Besides its genotype, an :class:`NDSCell` carries the ``width`` (channels of the first stage) and
``depth`` (number of cells) of its network, because the published NDS records vary them per
network. Sampled cells get the space's ``width`` and ``depth``; parsed strings without them too.

Strings: :meth:`NDSSpace.format` writes canonical JSON with the keys of the published ``net``
records (``{"normal": [["sep_conv_3x3", 0], ...], "normal_concat": [...], "reduce": [...],
"reduce_concat": [...], "width": 16, "depth": 8}``); :meth:`NDSSpace.parse` also reads a record's
whole ``net`` object (``{"genotype": {...}, "width": .., "depth": ..}``) and the DARTS repr
``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), ...)``.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from search_spaces.core.errors import InvalidArchitectureError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

Pair = tuple[str, int]

NASNET_OPS: tuple[str, ...] = (
    "skip_connect",
    "conv_3x1_1x3",
    "conv_7x1_1x7",
    "dil_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "max_pool_5x5",
    "max_pool_7x7",
    "conv_1x1",
    "conv_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
)
ENAS_OPS: tuple[str, ...] = ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")
AMOEBA_OPS: tuple[str, ...] = (
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "avg_pool_3x3",
    "max_pool_3x3",
    "dil_sep_conv_3x3",
    "conv_7x1_1x7",
)
PNAS_OPS: tuple[str, ...] = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "conv_7x1_1x7",
    "skip_connect",
    "avg_pool_3x3",
    "max_pool_3x3",
    "dil_conv_3x3",
)
DARTS_OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

CONCAT_ALL = "all"
CONCAT_LOOSE = "loose"


@dataclass(frozen=True)
class NDSSpec:
    """What distinguishes one NDS cell space.

    Attributes:
        name: the registered space name, e.g. ``nds_darts``.
        title: the name NDS uses (and its json file stem), e.g. ``DARTS``.
        ops: the op set, in ``pycls`` order.
        nodes: intermediate nodes per cell (``k``).
        concat: ``"all"`` (every node is concatenated) or ``"loose"`` (the nodes no other node reads).
    """

    name: str
    title: str
    ops: tuple[str, ...]
    nodes: int
    concat: str


SPECS: dict[str, NDSSpec] = {
    s.name: s
    for s in (
        NDSSpec("nds_darts", "DARTS", DARTS_OPS, 4, CONCAT_ALL),
        NDSSpec("nds_enas", "ENAS", ENAS_OPS, 5, CONCAT_LOOSE),
        NDSSpec("nds_amoeba", "Amoeba", AMOEBA_OPS, 5, CONCAT_LOOSE),
        NDSSpec("nds_nasnet", "NASNet", NASNET_OPS, 5, CONCAT_LOOSE),
        NDSSpec("nds_pnas", "PNAS", PNAS_OPS, 5, CONCAT_ALL),
    )
}


@dataclass(frozen=True)
class NDSCell:
    """An immutable NDS network: genotype plus width and depth.

    ``normal`` and ``reduce`` hold ``2k`` (op, input) pairs each (node ``j`` is pairs ``2j`` and
    ``2j + 1``); the concat tuples are sorted state numbers (``2 .. k + 1``). Values are checked by
    the space that makes them (:meth:`NDSSpace.validate`), not here.
    """

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]
    width: int
    depth: int

    def genotype(self) -> dict[str, list]:
        """The genotype as the published json records write it (lists, not tuples)."""
        return {
            "normal": [[op, i] for op, i in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, i] for op, i in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }


def concat_for(pairs: Sequence[Pair], rule: str) -> tuple[int, ...]:
    """The output states of a cell with ``pairs`` under ``rule`` (``"all"`` or ``"loose"``)."""
    nodes = len(pairs) // 2
    states = range(2, nodes + 2)
    if rule == CONCAT_ALL:
        return tuple(states)
    used = {i for _, i in pairs}
    return tuple(s for s in states if s not in used)


# -- parsing helpers -------------------------------------------------------------------------


def _literal(node: ast.expr, what: str) -> Any:
    """A literal value from a ``Genotype(...)`` repr; ``range(a, b)`` becomes a list."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            args = [ast.literal_eval(a) for a in node.args]
            return list(range(*args))
        except (ValueError, TypeError) as exc:
            raise InvalidArchitectureError(f"{what}: cannot read {ast.unparse(node)!r}: {exc}") from None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise InvalidArchitectureError(f"{what} is not a literal: {ast.unparse(node)!r} ({exc})") from None


def _parse_repr(text: str) -> dict[str, Any]:
    """``Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])`` as a dict."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InvalidArchitectureError(
            f"an NDS cell string is JSON or Genotype(...); cannot read {text!r}: {exc.msg}"
        ) from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype"):
        raise InvalidArchitectureError(f"an NDS cell string is JSON or Genotype(...), got {text!r}")
    names = ("normal", "normal_concat", "reduce", "reduce_concat")
    if len(call.args) > len(names):
        raise InvalidArchitectureError(f"Genotype(...) takes at most 4 fields, got {len(call.args)} in {text!r}")
    fields = {name: _literal(arg, name) for name, arg in zip(names, call.args)}
    for kw in call.keywords:
        if kw.arg is None:
            raise InvalidArchitectureError(f"Genotype(...) cannot take **kwargs in {text!r}")
        fields[kw.arg] = _literal(kw.value, kw.arg)
    return fields


class NDSSpace:
    """One NDS cell design space (see the module docstring).

    Args:
        variant: the space name (``nds_darts``, ``nds_enas``, ``nds_amoeba``, ``nds_nasnet``,
            ``nds_pnas``) or its NDS title (``DARTS``, ...).
        width: channels of the first stage for sampled and width-less parsed cells (the stem has
            ``3 * width``). Small by default, so that scoring on a CPU is quick.
        depth: number of cells for sampled and depth-less parsed cells; reduction cells sit at
            ``depth // 3`` and ``2 * depth // 3``.

    Raises:
        UnknownNameError: an unknown ``variant``.
        ValueError: ``width`` or ``depth`` below 1.
    """

    def __init__(self, variant: str, width: int = 16, depth: int = 8) -> None:
        spec = SPECS.get(variant) or next((s for s in SPECS.values() if s.title.lower() == variant.lower()), None)
        if spec is None:
            raise UnknownNameError("NDS space", variant, tuple(SPECS))
        if int(width) < 1 or int(depth) < 1:
            raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}")
        self.spec = spec
        self.name = spec.name
        self.width = int(width)
        self.depth = int(depth)
        self._op_set = frozenset(spec.ops)

    def __repr__(self) -> str:
        return f"NDSSpace({self.name!r}, width={self.width}, depth={self.depth})"

    @property
    def ops(self) -> tuple[str, ...]:
        return self.spec.ops

    @property
    def nodes(self) -> int:
        return self.spec.nodes

    @property
    def size(self) -> None:
        """``None``: too many cells to enumerate (``o^(4k) ((k+1)!)^4`` genotypes)."""
        return None

    # -- validation ---------------------------------------------------------------------------
    def _pairs(self, value: Any, which: str) -> tuple[Pair, ...]:
        k = self.spec.nodes
        if not isinstance(value, (list, tuple)):
            raise InvalidArchitectureError(f"{self.name}: {which} must be a list of [op, input] pairs, got {value!r}")
        if len(value) != 2 * k:
            raise InvalidArchitectureError(
                f"{self.name}: {which} must have {2 * k} (op, input) pairs ({k} nodes), got {len(value)}"
            )
        pairs = []
        for n, item in enumerate(value):
            node = n // 2
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise InvalidArchitectureError(f"{self.name}: {which}[{n}] must be an (op, input) pair, got {item!r}")
            op, src = item
            if not isinstance(op, str) or op not in self._op_set:
                raise InvalidArchitectureError(
                    f"{self.name}: unknown op {op!r} in {which}[{n}]; known: {', '.join(self.spec.ops)}"
                )
            if isinstance(src, bool) or not isinstance(src, (int, np.integer)):
                raise InvalidArchitectureError(f"{self.name}: input of {which}[{n}] must be an int, got {src!r}")
            if not 0 <= int(src) < node + 2:
                raise InvalidArchitectureError(
                    f"{self.name}: {which}[{n}] (node {node}) reads state {src}; it may read 0..{node + 1}"
                )
            pairs.append((op, int(src)))
        return tuple(pairs)

    def _concat(self, value: Any, which: str) -> tuple[int, ...]:
        k = self.spec.nodes
        if not isinstance(value, (list, tuple, range)) or len(value) == 0:
            raise InvalidArchitectureError(
                f"{self.name}: {which} must be a non-empty list of node states, got {value!r}"
            )
        out = []
        for s in value:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 2 <= int(s) < k + 2:
                raise InvalidArchitectureError(f"{self.name}: {which} holds {s!r}; node states are 2..{k + 1}")
            out.append(int(s))
        if len(set(out)) != len(out):
            raise InvalidArchitectureError(f"{self.name}: {which} repeats a state: {list(value)!r}")
        return tuple(sorted(out))

    @staticmethod
    def _positive_int(value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
            raise InvalidArchitectureError(f"NDS {what} must be a positive int, got {value!r}")
        return int(value)

    def make(
        self,
        normal: Sequence,
        reduce: Sequence,
        normal_concat: Sequence[int] | None = None,
        reduce_concat: Sequence[int] | None = None,
        width: int | None = None,
        depth: int | None = None,
    ) -> NDSCell:
        """A checked cell. A missing concat follows the space's output rule; a missing width or
        depth is the space's. Raises ``InvalidArchitectureError`` naming the fault."""
        n = self._pairs(normal, "normal")
        r = self._pairs(reduce, "reduce")
        nc = concat_for(n, self.spec.concat) if normal_concat is None else self._concat(normal_concat, "normal_concat")
        rc = concat_for(r, self.spec.concat) if reduce_concat is None else self._concat(reduce_concat, "reduce_concat")
        w = self.width if width is None else self._positive_int(width, "width")
        d = self.depth if depth is None else self._positive_int(depth, "depth")
        return NDSCell(n, nc, r, rc, w, d)

    def validate(self, arch: NDSCell) -> NDSCell:
        """``arch`` if it belongs to this space; raises ``InvalidArchitectureError`` otherwise."""
        if not isinstance(arch, NDSCell):
            raise InvalidArchitectureError(f"{self.name}: expected an NDSCell, got {type(arch).__name__}")
        return self.make(arch.normal, arch.reduce, arch.normal_concat, arch.reduce_concat, arch.width, arch.depth)

    def from_record(self, net: Mapping[str, Any]) -> NDSCell:
        """The cell of a published record's ``net`` object (``genotype``, ``width``, ``depth``).

        Raises:
            InvalidArchitectureError: no genotype, or a genotype that is not of this space.
        """
        if not isinstance(net, Mapping):
            raise InvalidArchitectureError(f"{self.name}: a record's net must be an object, got {type(net).__name__}")
        geno = net.get("genotype", net)
        if not isinstance(geno, Mapping):
            raise InvalidArchitectureError(f"{self.name}: genotype must be an object, got {type(geno).__name__}")
        missing = [k for k in ("normal", "reduce") if k not in geno]
        if missing:
            raise InvalidArchitectureError(f"{self.name}: the genotype lacks {', '.join(missing)}")
        return self.make(
            geno["normal"],
            geno["reduce"],
            geno.get("normal_concat"),
            geno.get("reduce_concat"),
            net.get("width", geno.get("width")),
            net.get("depth", geno.get("depth")),
        )

    # -- strings ------------------------------------------------------------------------------
    def parse(self, text: str) -> NDSCell:
        """The cell ``text`` describes (canonical JSON, a record's ``net`` JSON, or ``Genotype(...)``).

        Raises:
            InvalidArchitectureError: naming the fault (not a string, unreadable, wrong node count,
                unknown op, an input that is not an earlier state, a bad concat, width or depth).
        """
        if not isinstance(text, str):
            raise InvalidArchitectureError(f"an NDS cell string is a str, got {type(text).__name__}")
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                obj = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise InvalidArchitectureError(f"{self.name}: invalid JSON cell {text!r}: {exc}") from None
            return self.from_record(obj)
        return self.from_record(_parse_repr(stripped))

    def format(self, arch: NDSCell) -> str:
        """Canonical JSON of ``arch`` (the genotype keys of the published records, width, depth)."""
        obj: dict[str, Any] = dict(arch.genotype())
        obj["width"] = arch.width
        obj["depth"] = arch.depth
        return json.dumps(obj)

    def key(self, arch: NDSCell) -> str:
        """A 16-hex-digit hash of the space name, width, depth and genotype, with the two (op, input)
        pairs of each node sorted (a node sums them, so their order does not change the network)."""

        def canon(pairs: tuple[Pair, ...]) -> list:
            return [sorted([list(pairs[2 * j]), list(pairs[2 * j + 1])]) for j in range(len(pairs) // 2)]

        obj = [
            self.name,
            arch.width,
            arch.depth,
            canon(arch.normal),
            list(arch.normal_concat),
            canon(arch.reduce),
            list(arch.reduce_concat),
        ]
        return hashlib.sha256(json.dumps(obj).encode()).hexdigest()[:16]

    # -- sampling and mutation ----------------------------------------------------------------
    def _sample_pairs(self, rng: np.random.Generator) -> tuple[Pair, ...]:
        ops = self.spec.ops
        pairs = []
        for node in range(self.spec.nodes):
            for _ in range(2):
                pairs.append((ops[int(rng.integers(len(ops)))], int(rng.integers(node + 2))))
        return tuple(pairs)

    def sample(self, rng: np.random.Generator) -> NDSCell:
        """A uniform draw as NDS samples the space (see the module docstring), at the space's width
        and depth. Only ``rng`` is advanced."""
        normal = self._sample_pairs(rng)
        reduce = self._sample_pairs(rng)
        return self.make(normal, reduce)

    def mutate(self, arch: NDSCell, rng: np.random.Generator) -> NDSCell:
        """Change one op or one input of one node of the normal or the reduction cell (uniform
        choices, always to a different value); the concat lists are then recomputed by the space's
        output rule. Width and depth are kept; ``arch`` is not changed."""
        arch = self.validate(arch)
        which = "normal" if rng.integers(2) == 0 else "reduce"
        pairs = list(getattr(arch, which))
        slot = int(rng.integers(len(pairs)))
        node = slot // 2
        op, src = pairs[slot]
        if rng.integers(2) == 0:
            ops = self.spec.ops
            current = ops.index(op)
            op = ops[(current + 1 + int(rng.integers(len(ops) - 1))) % len(ops)]
        else:
            choices = node + 2
            src = (src + 1 + int(rng.integers(choices - 1))) % choices
        pairs[slot] = (op, src)
        normal = tuple(pairs) if which == "normal" else arch.normal
        reduce = tuple(pairs) if which == "reduce" else arch.reduce
        return self.make(normal, reduce, width=arch.width, depth=arch.depth)

    # -- networks -----------------------------------------------------------------------------
    def build(self, arch: NDSCell, num_classes: int) -> nn.Module:
        """The untrained NDS CIFAR network of ``arch`` at its own width and depth (see
        :class:`search_spaces.networks.nds.NDSNetwork`). Raises ``InvalidArchitectureError``."""
        from search_spaces.nds.network import NDSNetwork

        arch = self.validate(arch)
        return NDSNetwork(arch, num_classes)


def nds_space_names() -> tuple[str, ...]:
    """The registered names of the five NDS spaces."""
    return tuple(SPECS)
