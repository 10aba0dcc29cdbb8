"""The NDS CIFAR network of a cell genotype (the DARTS-style ``NetworkCIFAR`` that NDS trains),
written for this project from the structure ``pycls/models/nas/nas.py`` describes.

* stem: 3x3 convolution to ``3 * width`` channels, BatchNorm (no ReLU);
* ``depth`` cells; cells ``depth // 3`` and ``2 * depth // 3`` are reduction cells (stride 2,
  channels doubled); each cell reads the outputs of the two previous cells, brought to its width by
  a ReLU-conv1x1-BN (or a factorized reduction after a reduction cell);
* global average pooling and a linear head (no auxiliary head and no drop-path: both only matter
  while training).

Every ReLU is its own ``nn.ReLU`` module (never functional, never in place), so hook-based scores
(NASWOT) see each one. A cell drops each intermediate state as soon as no later node or the output
needs it, which bounds the activations alive during a ``no_grad`` forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from search_spaces.core.errors import InvalidArchitectureError
from search_spaces.nb201.network import (
    ReLUConvBN,  # ReLU, bias-free convolution, BatchNorm: the same block in both families
)


class SepConv(nn.Sequential):
    """Two rounds of ReLU, depthwise ``kernel`` convolution (dilated by ``dilation``), pointwise
    convolution and BatchNorm; only the first depthwise convolution has the stride."""

    def __init__(self, c: int, kernel: int, stride: int, dilation: int = 1) -> None:
        pad = dilation * (kernel - 1) // 2
        layers: list[nn.Module] = []
        for s in (stride, 1):
            layers += [
                nn.ReLU(inplace=False),
                nn.Conv2d(c, c, kernel, stride=s, padding=pad, dilation=dilation, groups=c, bias=False),
                nn.Conv2d(c, c, 1, bias=False),
                nn.BatchNorm2d(c),
            ]
        super().__init__(*layers)


class DilConv(nn.Sequential):
    """ReLU, dilated depthwise convolution, pointwise convolution, BatchNorm."""

    def __init__(self, c: int, kernel: int, stride: int, dilation: int) -> None:
        pad = dilation * (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=pad, dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class FactorizedConv(nn.Sequential):
    """ReLU, a ``1 x k`` then a ``k x 1`` convolution (the stride split between them), BatchNorm."""

    def __init__(self, c: int, kernel: int, stride: int) -> None:
        pad = (kernel - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, (1, kernel), stride=(1, stride), padding=(0, pad), bias=False),
            nn.Conv2d(c, c, (kernel, 1), stride=(stride, 1), padding=(pad, 0), bias=False),
            nn.BatchNorm2d(c),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros of the output's shape (subsampled when the stride is 2)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution: ReLU, two stride-2 1x1 convolutions (the second offset by one pixel)
    concatenated to ``c_out`` channels, BatchNorm. ``c_out`` must be even."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise InvalidArchitectureError(f"a factorized reduction needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def make_op(name: str, c: int, stride: int) -> nn.Module:
    """The module of op ``name`` with ``c`` channels in and out and the given stride.

    Raises:
        InvalidArchitectureError: an unknown op name.
    """
    if name == "none":
        return Zero(stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    pools = {
        "avg_pool_3x3": 3,
        "max_pool_3x3": 3,
        "max_pool_5x5": 5,
        "max_pool_7x7": 7,
    }
    if name in pools:
        k = pools[name]
        if name.startswith("avg"):
            return nn.AvgPool2d(k, stride=stride, padding=k // 2, count_include_pad=False)
        return nn.MaxPool2d(k, stride=stride, padding=k // 2)
    if name == "conv_1x1":
        return ReLUConvBN(c, c, 1, stride, 0)
    if name == "conv_3x3":
        return ReLUConvBN(c, c, 3, stride, 1)
    if name in ("sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"):
        return SepConv(c, int(name[-1]), stride)
    if name == "dil_sep_conv_3x3":
        return SepConv(c, 3, stride, dilation=2)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        return DilConv(c, int(name[-1]), stride, 2)
    if name in ("conv_3x1_1x3", "conv_7x1_1x7"):
        return FactorizedConv(c, int(name[5]), stride)
    raise InvalidArchitectureError(f"unknown NDS op {name!r}")


class Cell(nn.Module):
    """One cell: preprocess the two inputs to ``c`` channels, compute the nodes, concatenate.

    Args:
        pairs: ``2k`` (op, input) pairs; states 0 and 1 are the preprocessed inputs.
        concat: the states concatenated to the output (``len(concat) * c`` channels).
        reduction: ops reading states 0 and 1 have stride 2.
        reduction_prev: the previous cell halved the resolution, so input 0 (two cells back) is
            reduced by a :class:`FactorizedReduce`.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, int]],
        concat: Sequence[int],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_prev_prev, c) if reduction_prev else ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        self.inputs = tuple(int(i) for _, i in pairs)
        self.concat = tuple(int(s) for s in concat)
        self.ops = nn.ModuleList(make_op(op, c, 2 if reduction and i < 2 else 1) for op, i in pairs)
        self.out_channels = len(self.concat) * c
        # the last node that reads each state (states in the output stay alive to the end)
        nodes = len(self.inputs) // 2
        last = {}
        for n, src in enumerate(self.inputs):
            last[src] = n // 2
        for s in self.concat:
            last[s] = nodes
        self._free_after: tuple[tuple[int, ...], ...] = tuple(
            tuple(s for s, j in last.items() if j == node) for node in range(nodes)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states: list[torch.Tensor | None] = [self.preprocess0(s0), self.preprocess1(s1)]
        del s0, s1
        for node, free in enumerate(self._free_after):
            a, b = 2 * node, 2 * node + 1
            out = self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]])
            states.append(out)
            for s in free:
                states[s] = None
        kept = [t for t in (states[s] for s in self.concat) if t is not None]
        if len(kept) != len(self.concat):  # the cell frees only states nothing later reads
            raise RuntimeError("internal error: a state of the cell's output was freed")
        return torch.cat(kept, dim=1)


class NDSNetwork(nn.Module):
    """The NDS CIFAR network of an :class:`~search_spaces.nds.NDSCell` (its own width and depth).

    ``forward(images)`` returns the logits ``(N, num_classes)``.
    """

    def __init__(self, arch, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        width, depth = int(arch.width), int(arch.depth)
        c_stem = 3 * width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_stem),
        )
        reductions = {depth // 3, 2 * depth // 3}
        c_prev_prev, c_prev, c = c_stem, c_stem, width
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(depth):
            reduction = i in reductions
            if reduction:
                c *= 2
            pairs, concat = (arch.reduce, arch.reduce_concat) if reduction else (arch.normal, arch.normal_concat)
            cell = Cell(pairs, concat, c_prev_prev, c_prev, c, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.out_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        del x
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(torch.flatten(self.pool(s1), 1))
