"""The NAS-Bench-101 cell vocabulary: vertex ops and the benchmark's limits.

A leaf module (imports nothing of the project), so that the space, its table file and the converter
share one definition.
"""

from __future__ import annotations

INPUT = "input"
OUTPUT = "output"
# The benchmark's ``available_ops`` in its canonical order: the hash labels an op by its position
# here, and the embedded table stores an op as this position (its op code).
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
NUM_CELLS = 423_624  # unique (non-isomorphic) valid cells of the benchmark
OP_CODE: dict[str, int] = {op: i for i, op in enumerate(OPS)}
