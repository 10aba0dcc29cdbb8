"""The NAS-Bench-201 op list and cell shape, defined once (the space and the network both read it)."""

from __future__ import annotations

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_EDGES = 6  # edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
NUM_CELLS = len(OPS) ** NUM_EDGES
