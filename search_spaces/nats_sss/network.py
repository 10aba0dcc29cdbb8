"""The NATS-Bench size-space network, written for this project.

The benchmark's shape-searchable tiny network (Dong et al., NATS-Bench, TPAMI 2021): the
NAS-Bench-201 macro skeleton with one cell per stage and five per-layer widths ``C0..C4``: a 3x3
stem of width C0, a cell C0 -> C0, a residual reduction C0 -> C1, a cell C1 -> C2, a residual
reduction C2 -> C3, a cell C3 -> C4, then BatchNorm + ReLU, global average pooling and a linear
head. Every cell is the best NAS-Bench-201 cell (:data:`BEST_CELL`). In a cell whose input and
output widths differ, the edges leaving the input change the width: a convolution maps C_in to
C_out, a skip becomes a 1x1 convolution + BatchNorm, ``none`` gives zeros of the output width and
the average pool is preceded by a ReLU + 1x1 convolution + BatchNorm. The building blocks are
those of :mod:`search_spaces.networks.nb201`. ``forward`` returns the logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from search_spaces.core.errors import InvalidArchitectureError
from search_spaces.nb201.network import EDGE_SRC, Cell, NB201Network, ReLUConvBN, ResidualReduction, make_op

# |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|
BEST_CELL: tuple[str, ...] = (
    "nor_conv_3x3",
    "nor_conv_3x3",
    "nor_conv_3x3",
    "skip_connect",
    "nor_conv_3x3",
    "nor_conv_3x3",
)
NUM_LAYERS = 5


class ZeroResize(nn.Module):
    """The ``none`` op between different widths: zeros with ``c_out`` channels."""

    def __init__(self, c_out: int) -> None:
        super().__init__()
        self.c_out = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], self.c_out, x.shape[2], x.shape[3])
        return x.new_zeros(shape)


def make_resizing_op(name: str, c_in: int, c_out: int) -> nn.Module:
    """The module of an edge leaving a cell's input (``c_in`` channels in, ``c_out`` out, stride 1)."""
    if c_in == c_out:
        return make_op(name, c_in)
    if name == "none":
        return ZeroResize(c_out)
    if name == "skip_connect":
        return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
    if name == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.Sequential(ReLUConvBN(c_in, c_out, 1, 1, 0), make_op(name, c_out))
    return make_op(name, c_out)  # raises InvalidArchitectureError for an unknown op


class ShapeCell(Cell):
    """A four-node NAS-Bench-201 cell from ``c_in`` to ``c_out`` channels (edge order as in NB201);
    the edges out of the input node resize, and ``forward`` is NB201's :class:`Cell`'s."""

    def __init__(self, ops: Sequence[str], c_in: int, c_out: int) -> None:
        nn.Module.__init__(self)  # Cell's own __init__ builds same-width edges
        if len(ops) != len(EDGE_SRC):
            raise InvalidArchitectureError(f"a NAS-Bench-201 cell has {len(EDGE_SRC)} edges, got {len(ops)}")
        self.edges = nn.ModuleList(
            make_resizing_op(op, c_in, c_out) if src == 0 else make_op(op, c_out) for op, src in zip(ops, EDGE_SRC)
        )


class NATSSizeNetwork(NB201Network):
    """The size-space network of five layer widths (see the module docstring); its head and
    ``forward`` are NB201's."""

    def __init__(self, channels: Sequence[int], num_classes: int, ops: Sequence[str] = BEST_CELL) -> None:
        nn.Module.__init__(self)  # NB201Network's own __init__ builds fixed-width stages
        channels = [int(c) for c in channels]
        if len(channels) != NUM_LAYERS or min(channels) < 1:
            raise InvalidArchitectureError(f"the size space has {NUM_LAYERS} positive widths, got {channels}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 3, padding=1, bias=False), nn.BatchNorm2d(channels[0]))
        layers: list[nn.Module] = []
        c_prev = channels[0]
        for layer, c in enumerate(channels):
            if layer in (1, 3):
                layers.append(ResidualReduction(c_prev, c))
            else:
                layers.append(ShapeCell(ops, c_prev, c))
            c_prev = c
        self._finish(layers, c_prev, num_classes)
