"""Measured latency of every NAS-Bench-201 cell on 27 devices, and its FLOPs, from ``nb201_latency.parquet``.

Row ``i`` of the file is benchmark index ``i`` (the embedded table's order). Each device column
holds milliseconds of one forward pass of the benchmark's CIFAR-10 network (C=16, N=5, 10 classes,
32x32 input), as float32; ``flops_m`` holds that network's multiply-adds in millions, counted once
each (the convention of :mod:`search_spaces.core.costs`). Sources and checks: ``PROVENANCE.md``
beside this file and the file's own ``provenance`` metadata.

Lookups are O(1) reads of cached numpy columns. The file is written by the maintainer command::

    python -m search_spaces.nb201.latency ../shared/data/hw/nb201_latency_27devices.csv.gz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import time
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from search_spaces.core.errors import BenchmarkDataError, InvalidArchitectureError, UnknownNameError
from search_spaces.nb201.space import NUM_CELLS, NUM_EDGES, OPS, NB201Cell, NB201Space, parse_cell

LATENCY_FILE = "nb201_latency.parquet"
FLOPS_COLUMN = "flops_m"
INDEX_COLUMN = "index"
# The devices of the file, in its column order: HW-NAS-Bench's four (``hwnb_*``), then HELP's (``help_*``,
# GPUs at batch 1, 32 and 256, Xeon CPUs, phones).
LATENCY_DEVICES: tuple[str, ...] = (
    "hwnb_pixel3",
    "hwnb_raspi4",
    "hwnb_eyeriss",
    "hwnb_fpga",
    "help_1080ti_1",
    "help_1080ti_32",
    "help_1080ti_256",
    "help_2080ti_1",
    "help_2080ti_32",
    "help_2080ti_256",
    "help_titanx_1",
    "help_titanx_32",
    "help_titanx_256",
    "help_titanxp_1",
    "help_titanxp_32",
    "help_titanxp_256",
    "help_titan_rtx_1",
    "help_titan_rtx_32",
    "help_titan_rtx_256",
    "help_gold_6226",
    "help_gold_6240",
    "help_silver_4114",
    "help_silver_4210r",
    "help_pixel2",
    "help_samsung_a50",
    "help_samsung_s7",
    "help_essential_ph_1",
)
# The benchmark network the file describes (what NB201Space() builds for CIFAR-10).
TABLE_CHANNELS, TABLE_CELLS_PER_STAGE, TABLE_NUM_CLASSES, TABLE_INPUT_SHAPE = 16, 5, 10, (3, 32, 32)
_SOURCE_SUFFIX = "_latency_ms"
PROVENANCE = (
    "Latency: milliseconds of one forward pass of the NAS-Bench-201 CIFAR-10 network, one column per device.",
    "hwnb_{pixel3,raspi4,eyeriss,fpga}: HW-NAS-Bench (RICE-EIC/HW-NAS-Bench, MIT), as shipped in "
    "HayeonLee/HELP data/nasbench201/latency/*.pt at commit 45f70eb (MIT); eyeriss and fpga are simulated.",
    "help_*: HELP's own measurements (same files): desktop GPUs at batch 1/32/256, Xeon CPUs, phones (whole ms).",
    "flops_m: multiply-adds (millions, one per multiply-add) of the same network, from "
    "torch.utils.flop_counter.FlopCounterMode on the meta device (search_spaces.core.costs).",
)


def is_table_network(space: NB201Space, num_classes: int, input_shape) -> bool:
    """Whether ``space`` builds, for ``num_classes`` and ``input_shape``, the network the file describes."""
    return (
        isinstance(space, NB201Space)
        and (space.channels, space.cells_per_stage) == (TABLE_CHANNELS, TABLE_CELLS_PER_STAGE)
        and int(num_classes) == TABLE_NUM_CLASSES
        and tuple(int(s) for s in input_shape) == TABLE_INPUT_SHAPE
    )


@lru_cache(maxsize=1)
def latency_table() -> pa.Table:
    """The whole file (index, flops_m, one float32 column per device)."""
    with resources.as_file(resources.files("search_spaces.nb201") / LATENCY_FILE) as path:
        return pq.read_table(path)


@cache
def _column(name: str) -> np.ndarray:
    array = latency_table().column(name).to_numpy()
    array.flags.writeable = False
    return array


def latency_column(device: str) -> np.ndarray:
    """Milliseconds of every cell on ``device`` in benchmark index order (read-only, float32).

    Raises:
        UnknownNameError: ``device`` is not one of :data:`LATENCY_DEVICES` (the message lists them).
    """
    if device not in LATENCY_DEVICES:
        raise UnknownNameError("latency device", device, LATENCY_DEVICES)
    return _column(device)


def flops_column() -> np.ndarray:
    """Multiply-adds (millions) of every cell's CIFAR-10 network in benchmark index order (read-only)."""
    return _column(FLOPS_COLUMN)


@lru_cache(maxsize=1)
def _index_space() -> NB201Space:
    return NB201Space()


def _index(index_or_cell: int | NB201Cell | str) -> int:
    if isinstance(index_or_cell, str):
        index_or_cell = parse_cell(index_or_cell)
    if isinstance(index_or_cell, NB201Cell):
        return _index_space().index(index_or_cell)
    if isinstance(index_or_cell, bool) or not isinstance(index_or_cell, int | np.integer):
        raise InvalidArchitectureError(
            f"an NB201 cell is an index, an NB201Cell or a cell string, got {type(index_or_cell).__name__}"
        )
    if not 0 <= int(index_or_cell) < NUM_CELLS:
        raise InvalidArchitectureError(f"NB201 index must be in [0, {NUM_CELLS}), got {index_or_cell}")
    return int(index_or_cell)


def latency_ms(index_or_cell: int | NB201Cell | str, device: str) -> float:
    """Milliseconds of one forward pass of the cell's CIFAR-10 network on ``device`` (O(1)).

    Raises:
        UnknownNameError: ``device`` is not one of :data:`LATENCY_DEVICES`.
        InvalidArchitectureError: the index is out of range or the cell string is not an NB201 cell.
    """
    return float(latency_column(device)[_index(index_or_cell)])


def flops_m(index_or_cell: int | NB201Cell | str) -> float:
    """Multiply-adds (millions) of the cell's CIFAR-10 network (O(1)); raises like :func:`latency_ms`."""
    return float(flops_column()[_index(index_or_cell)])


# -- the maintainer's converter ------------------------------------------------------------------


def additive_flops_m(space: NB201Space) -> np.ndarray:
    """Multiply-adds (millions) of every cell in benchmark index order, from 1 + 4 counted networks.

    Every edge of every cell maps ``C`` channels to ``C`` at its stage's resolution, and the counter
    counts an op's convolutions whether or not a ``none`` edge cuts it off, so a network's count is
    the all-``none`` network's plus, per edge, what its op adds (the same on every edge). The five
    networks are counted with :func:`~search_spaces.core.costs.network_costs`; the converter checks
    the sum against the counter on a sample of whole cells.
    """
    from search_spaces.core.costs import network_costs

    def count(ops: tuple[str, ...]) -> float:
        return network_costs(space, NB201Cell(ops), TABLE_NUM_CLASSES, TABLE_INPUT_SHAPE).flops_m

    base = count(("none",) * NUM_EDGES)
    added = {op: count((op,) + ("none",) * (NUM_EDGES - 1)) - base for op in OPS}
    flops = [base + sum(added[op] for op in space.from_index(i).ops) for i in range(NUM_CELLS)]
    return np.round(np.array(flops), 6)  # whole multiply-adds: drop the sums' rounding noise


def convert_latency_csv(source: Path, out: Path, check_cells: int = 30, seed: int = 0) -> pa.Table:
    """Convert the gathered ``nb201_latency_27devices.csv.gz`` into ``out`` (Parquet, zstd) atomically; return the table.

    Checks that the rows are indices 0..15624 in order and that every ``arch_str`` equals the
    embedded table's string at that index, and compares :func:`additive_flops_m` with the counter on
    ``check_cells`` cells drawn from ``seed`` (printing the counter's time per cell).

    Raises:
        BenchmarkDataError: the CSV's rows, cells or columns are not the ones expected, or the FLOPs disagree.
    """
    import pyarrow.csv as pacsv

    from search_spaces.core.atomic import write_bytes_atomic
    from search_spaces.core.costs import network_costs
    from search_spaces.nb201.table import embedded_arch_strings

    raw = pacsv.read_csv(source)
    if raw.column(INDEX_COLUMN).to_pylist() != list(range(NUM_CELLS)):
        raise BenchmarkDataError(f"{source}: rows must be indices 0..{NUM_CELLS - 1} in order")
    if raw.column("arch_str").to_pylist() != embedded_arch_strings():
        raise BenchmarkDataError(f"{source}: arch_str disagrees with the embedded NB201 table")
    expected = {f"{d}{_SOURCE_SUFFIX}" for d in LATENCY_DEVICES}
    found = {c for c in raw.column_names if c.endswith(_SOURCE_SUFFIX)}
    if found != expected:
        raise BenchmarkDataError(f"{source}: device columns differ: {sorted(found ^ expected)}")
    space = NB201Space()
    flops = additive_flops_m(space)
    rng = np.random.default_rng(seed)
    sample = rng.choice(NUM_CELLS, size=check_cells, replace=False)
    start = time.perf_counter()
    for index in sample:
        counted = network_costs(space, space.from_index(int(index)), TABLE_NUM_CLASSES, TABLE_INPUT_SHAPE).flops_m
        if abs(counted - flops[index]) >= 5e-7:  # half a multiply-add
            raise BenchmarkDataError(f"additive FLOPs of cell {index}: {flops[index]} M, counter: {counted} M")
    per_cell = (time.perf_counter() - start) / check_cells
    print(
        f"counted {check_cells} cells: {per_cell * 1e3:.1f} ms per cell (all {NUM_CELLS}: "
        f"{per_cell * NUM_CELLS / 60:.1f} min); additive FLOPs agree on all of them"
    )
    columns = {
        INDEX_COLUMN: pa.array(np.arange(NUM_CELLS, dtype=np.int32)),
        FLOPS_COLUMN: pa.array(flops, pa.float64()),
    }
    for device in LATENCY_DEVICES:
        values = raw.column(f"{device}{_SOURCE_SUFFIX}").to_numpy().astype(np.float32)
        if not np.isfinite(values).all():
            raise BenchmarkDataError(f"{source}: {device} has non-finite latencies")
        columns[device] = pa.array(values, pa.float32())
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    metadata = {"provenance": "\n".join(PROVENANCE), "source": f"{Path(source).name} sha256 {digest}"}
    table = pa.table(columns).replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    # Byte-stream splitting (instead of dictionaries) lets zstd compress the float32 columns to two thirds.
    pq.write_table(
        table,
        buffer,
        compression="zstd",
        compression_level=19,
        use_dictionary=[INDEX_COLUMN, FLOPS_COLUMN],
        use_byte_stream_split=list(LATENCY_DEVICES),
    )
    write_bytes_atomic(buffer.getvalue(), out)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert the gathered NB201 latency CSV into nb201_latency.parquet.")
    parser.add_argument("source", type=Path, help="nb201_latency_27devices.csv.gz")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(LATENCY_FILE))
    parser.add_argument("--check-cells", type=int, default=30, help="cells whose FLOPs the counter re-checks")
    args = parser.parse_args(argv)
    table = convert_latency_csv(args.source, args.out, args.check_cells)
    print(f"wrote {args.out}: {table.num_rows} rows, {table.num_columns} columns, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
