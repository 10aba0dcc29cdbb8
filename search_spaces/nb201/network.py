"""The NAS-Bench-201 / NATS-Bench topology-space network, written for this project.

Same structure and parameter count as the benchmark's own ``TinyNetwork`` (Dong & Yang, ICLR 2020):
a 3x3 stem, three stages of ``N`` cells of width ``C``, ``2C``, ``4C`` joined by residual reduction
blocks, a final BatchNorm + ReLU, global average pooling and a linear head. Every ReLU is its own
``nn.ReLU`` module, so hook-based scores (NASWOT) see each one. ``forward`` returns the logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from search_spaces.core.errors import InvalidArchitectureError
from search_spaces.nb201.ops import OPS  # the op list is defined once


class ReLUConvBN(nn.Sequential):
    """ReLU, then a bias-free convolution, then BatchNorm (the benchmark's ``nor_conv_kxk``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: an all-zero tensor of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """The module of one cell edge (stride 1, ``channels`` in and out)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise InvalidArchitectureError(f"unknown NAS-Bench-201 op {name!r}; known: {', '.join(OPS)}")


# Edge e of the cell goes from node EDGE_SRC[e] into node EDGE_DST[e] (nodes 0..3, 0 is the input).
EDGE_SRC: tuple[int, ...] = (0, 0, 1, 0, 1, 2)
EDGE_DST: tuple[int, ...] = (1, 2, 2, 3, 3, 3)


class Cell(nn.Module):
    """A four-node DAG cell; node j is the sum of its incoming edges' outputs.

    ``dag_edges[e]`` is the (source, destination) node pair of ``edges[e]``: structure-reading
    proxies (:func:`scoring.proxies.skipped_layers`) find a network's cells by these two attributes.
    """

    dag_edges: tuple[tuple[int, int], ...] = tuple(zip(EDGE_SRC, EDGE_DST))

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        edge = 0
        for node in range(1, 4):
            total = self.edges[edge](nodes[0])
            edge += 1
            for src in range(1, node):
                total = total + self.edges[edge](nodes[src])
                edge += 1
            nodes.append(total)
        return nodes[-1]


class ResidualReduction(nn.Module):
    """The benchmark's ``ResNetBasicblock`` with stride 2 between stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro skeleton around one cell genotype (six op names, edge order)."""

    def __init__(self, ops: Sequence[str], num_classes: int, channels: int = 16, cells_per_stage: int = 5) -> None:
        super().__init__()
        if len(ops) != len(EDGE_SRC):
            raise InvalidArchitectureError(f"a NAS-Bench-201 cell has {len(EDGE_SRC)} edges, got {len(ops)}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        c_prev = channels
        for stage in range(3):
            c = channels * 2**stage
            if stage > 0:
                layers.append(ResidualReduction(c_prev, c))
            layers.extend(Cell(ops, c) for _ in range(cells_per_stage))
            c_prev = c
        self._finish(layers, c_prev, num_classes)

    def _finish(self, layers: list[nn.Module], c_prev: int, num_classes: int) -> None:
        """The cells, then BatchNorm + ReLU, global average pooling and the linear head."""
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(out), 1))
