"""The NATS-Bench size search space (SSS).

A cell is five layer widths, each one of 8, 16, ..., 64, written ``8:16:24:32:40`` (8**5 = 32,768
cells). The benchmark index reads the widths as base-8 digits, the first layer most significant
(``8:8:8:8:16`` is index 1, ``64:64:64:64:64`` index 32767), which is the order of the benchmark's
own ``meta_archs``. Every network has the best NAS-Bench-201 cell
(:mod:`search_spaces.networks.nats_sss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from search_spaces.core.errors import InvalidArchitectureError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

WIDTHS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
NUM_LAYERS = 5
NUM_CELLS = len(WIDTHS) ** NUM_LAYERS
_WIDTH_ID = {w: i for i, w in enumerate(WIDTHS)}


@dataclass(frozen=True)
class NATSSizeCell:
    """Five layer widths (each in :data:`WIDTHS`)."""

    channels: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.channels) != NUM_LAYERS:
            raise InvalidArchitectureError(f"a size-space cell has {NUM_LAYERS} widths, got {len(self.channels)}")
        for c in self.channels:
            if c not in _WIDTH_ID:
                raise InvalidArchitectureError(f"width {c!r} is not one of {', '.join(map(str, WIDTHS))}")

    @property
    def index(self) -> int:
        """The benchmark index (0..32767)."""
        value = 0
        for c in self.channels:
            value = value * len(WIDTHS) + _WIDTH_ID[c]
        return value

    def __str__(self) -> str:
        return format_cell(self)


def format_cell(cell: NATSSizeCell) -> str:
    """``C0:C1:C2:C3:C4``."""
    return ":".join(str(c) for c in cell.channels)


def parse_cell(text: str) -> NATSSizeCell:
    """Parse ``C0:C1:C2:C3:C4``; raises ``InvalidArchitectureError`` naming the fault."""
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"a size-space cell string is a str, got {type(text).__name__}")
    parts = text.strip().split(":")
    if len(parts) != NUM_LAYERS or not all(p.isdigit() for p in parts):
        raise InvalidArchitectureError(f"a size-space cell is {NUM_LAYERS} widths joined by ':', got {text!r}")
    return NATSSizeCell(tuple(int(p) for p in parts))


def cell_from_index(index: int) -> NATSSizeCell:
    """The cell at benchmark index ``index``; raises ``InvalidArchitectureError`` out of range."""
    if not 0 <= int(index) < NUM_CELLS:
        raise InvalidArchitectureError(f"size-space index must be in [0, {NUM_CELLS}), got {index}")
    digits = []
    value = int(index)
    for _ in range(NUM_LAYERS):
        value, digit = divmod(value, len(WIDTHS))
        digits.append(WIDTHS[digit])
    return NATSSizeCell(tuple(reversed(digits)))


class NATSSizeSpace:
    """The NATS-Bench size space: cells, benchmark indices and networks."""

    name = "nats_sss"

    def parse(self, text: str) -> NATSSizeCell:
        return parse_cell(text)

    def format(self, arch: NATSSizeCell) -> str:
        return format_cell(arch)

    def index(self, arch: NATSSizeCell) -> int:
        """Benchmark index (0..32767) of ``arch``."""
        return arch.index

    def from_index(self, index: int) -> NATSSizeCell:
        return cell_from_index(index)

    def key(self, arch: NATSSizeCell) -> str:
        """The benchmark index as a string."""
        return str(arch.index)

    @property
    def size(self) -> int:
        return NUM_CELLS

    def sample(self, rng: np.random.Generator) -> NATSSizeCell:
        """A uniform draw over all 32,768 cells."""
        return NATSSizeCell(tuple(WIDTHS[int(i)] for i in rng.integers(len(WIDTHS), size=NUM_LAYERS)))

    def mutate(self, arch: NATSSizeCell, rng: np.random.Generator) -> NATSSizeCell:
        """Change the width of one uniformly chosen layer to another, uniformly chosen width."""
        layer = int(rng.integers(NUM_LAYERS))
        current = _WIDTH_ID[arch.channels[layer]]
        new = (current + 1 + int(rng.integers(len(WIDTHS) - 1))) % len(WIDTHS)
        channels = list(arch.channels)
        channels[layer] = WIDTHS[new]
        return NATSSizeCell(tuple(channels))

    def build(self, arch: NATSSizeCell, num_classes: int) -> nn.Module:
        """The benchmark's shape-searchable network with the best NB201 cell."""
        from search_spaces.nats_sss.network import NATSSizeNetwork

        return NATSSizeNetwork(arch.channels, num_classes)
