"""Maintainer script: convert the gathered raw data into the compact files shipped in the package.

Run once from a checkout that has the raw data beside it::

    python -m search_spaces.convert ../shared/data

It writes ``search_spaces/nb201/nb201.parquet``, ``search_spaces/nb101/nb101.parquet`` (every
NAS-Bench-101 cell), ``search_spaces/nb101/nb101_sample500.parquet`` and ``scoring/images/*.npz``
(each folder's ``PROVENANCE.md`` says where the data came from). The package never reads the raw
directory at run time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

NB201_SCHEMA = pa.schema(
    [
        ("index", pa.int32()),
        ("arch", pa.string()),
        ("cifar10_test", pa.float64()),
        ("cifar100_test", pa.float64()),
        ("imagenet16_test", pa.float64()),
        ("cifar10_valid", pa.float64()),
        ("params_m", pa.float64()),
        ("cifar10_valid_12ep", pa.float64()),
        ("train_time_12ep_s", pa.float64()),
    ]
)

NB101_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("arch", pa.string()),
        ("cifar10_valid", pa.float64()),
        ("params_m", pa.float64()),
        ("flops_m", pa.float64()),
    ]
)
# op codes of the NASLib tuples: 0 input, 1 output, 2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu
NASLIB_NB101_OPS = {0: "input", 1: "output", 2: "maxpool3x3", 3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu"}

IMAGE_SETS = {
    "cifar10": "cifar10_train_960.npz",
    "cifar100": "cifar100_train_960.npz",
    "imagenet16": "imagenet16_train_960.npz",
}


def convert_nb201(raw: Path, out: Path) -> None:
    table = pacsv.read_csv(raw / "nb201" / "nb201_table.csv").select(NB201_SCHEMA.names).cast(NB201_SCHEMA)
    if table.num_rows != 15625 or table.column("index").to_pylist() != list(range(15625)):
        raise ValueError("the NB201 table must hold indices 0..15624 in order")
    pq.write_table(table, out, compression="zstd", compression_level=19)


def naslib_nb101_cell(text: str):
    """The NB101 cell of a NASLib tuple string: 49 adjacency entries row by row, then 7 op codes."""
    from search_spaces.nb101.space import make_cell

    values = [int(v) for v in text.strip("()").split(",")]
    if len(values) != 56:
        raise ValueError(f"a NASLib NB101 tuple has 56 integers, got {len(values)}")
    matrix = np.array(values[:49]).reshape(7, 7)
    return make_cell(matrix, [NASLIB_NB101_OPS[v] for v in values[49:]])


def convert_nb101(raw: Path, out: Path) -> None:
    """The 500 NASLib rows (validation accuracy, params, flops) keyed by the benchmark hash, in the
    source's order. Isomorphic rows (repeats of small cells) are kept; the table groups them."""
    import json

    from search_spaces.nb101.space import format_cell

    data = json.loads((raw / "nb101" / "nb101_sample500.json").read_text())["nasbench101"]["cifar10"]
    rows = []
    for text, values in data.items():
        cell = naslib_nb101_cell(text)
        rows.append(
            {
                "key": cell.hash(),
                "arch": format_cell(cell),
                "cifar10_valid": float(values["val_accuracy"]),
                "params_m": float(values["params"]),
                "flops_m": float(values["flops"]),
            }
        )
    if len(rows) != 500:
        raise ValueError(f"expected the 500 rows of the NASLib sample, got {len(rows)}")
    pq.write_table(pa.Table.from_pylist(rows, schema=NB101_SCHEMA), out, compression="zstd", compression_level=19)


NB101_TABLE_CSV = ("nb101", "nb101_all_423624.csv.gz")
NB101_EXAMPLE_HASH = "00005c142e6f48ac74fdcf73e3439874"  # the benchmark's example cell
NB101_BEST = ("02e5a0247bbdcf2860b7e96f74961594", 94.318)  # best mean test accuracy (%) and its cell
NB101_CELLS_PER_SIZE = (1, 6, 84, 2441, 62010, 359082)  # cells with 2..7 vertices
NB101_HASH_CHECKS = 5000  # rows whose hash is recomputed from their matrix and ops


def _nb101_matrix_bits(matrix_text: np.ndarray, num_vertices: np.ndarray) -> np.ndarray:
    """The packed upper triangles (``search_spaces.nb101.table``) of the rows' ``0110|0001|...`` texts."""
    edges = np.zeros(len(matrix_text), dtype=np.uint32)
    for n in np.unique(num_vertices):
        rows = np.flatnonzero(num_vertices == n)
        text = "".join(matrix_text[rows]).replace("|", "")
        digits = (np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")).reshape(len(rows), n, n)
        if not np.isin(digits, (0, 1)).all() or np.tril(digits.any(axis=0)).any():
            raise ValueError(f"the NB101 matrices of {n} vertices must be strictly upper-triangular 0/1 digits")
        upper_rows, upper_cols = np.triu_indices(n, 1)
        upper = digits[:, upper_rows, upper_cols].astype(np.uint32)
        edges[rows] = upper @ (np.uint32(1) << np.arange(upper.shape[1], dtype=np.uint32))
    return edges


def nb101_table_rows(raw: Path) -> pa.Table:
    """The rows of ``nb101.parquet`` (``search_spaces.nb101.table.TABLE_SCHEMA``) from the gathered
    ``nb101_all_423624.csv.gz``, checked (see ``search_spaces/nb101/PROVENANCE.md``).

    Raises:
        ValueError: a check fails (row count, order, matrix and op format, hashes, known values).
    """
    from search_spaces.nb101.space import NB101Cell
    from search_spaces.nb101.table import TABLE_SCHEMA, pack_ops, unpack_edges
    from search_spaces.nb101.vocabulary import INPUT, MAX_EDGES, NUM_CELLS, OPS, OUTPUT

    source = pacsv.read_csv(raw.joinpath(*NB101_TABLE_CSV))
    if source.num_rows != NUM_CELLS or source.column("index").to_pylist() != list(range(NUM_CELLS)):
        raise ValueError(f"the NB101 table must hold indices 0..{NUM_CELLS - 1} in order")
    hashes = np.array(source.column("hash").to_pylist())
    if not (hashes[1:] > hashes[:-1]).all() or {len(h) for h in hashes} != {32}:
        raise ValueError("the NB101 hashes must be 32 hex digits, unique and in ascending order")
    num_vertices = source.column("num_vertices").to_numpy().astype(np.uint8)
    counts = tuple(int((num_vertices == n).sum()) for n in range(2, 8))
    if counts != NB101_CELLS_PER_SIZE:
        raise ValueError(f"NB101 cells per vertex count 2..7 must be {NB101_CELLS_PER_SIZE}, got {counts}")
    edges = _nb101_matrix_bits(np.array(source.column("matrix").to_pylist()), num_vertices)
    if np.bitwise_count(edges).max() > MAX_EDGES:
        raise ValueError(f"an NB101 cell has at most {MAX_EDGES} edges")
    op_lists = [text.split(",") for text in source.column("ops").to_pylist()]
    known = set(OPS)
    for ops, n in zip(op_lists, num_vertices, strict=True):
        if len(ops) != n or ops[0] != INPUT or ops[-1] != OUTPUT or not known.issuperset(ops[1:-1]):
            raise ValueError(f"every NB101 row needs {INPUT!r}, one of {OPS} per interior vertex, {OUTPUT!r}: {ops}")
    accuracy = (100.0 * source.column("test_accuracy_108ep_mean3").to_numpy()).astype(np.float32)
    table = pa.table(
        {
            "hash": pa.array([bytes.fromhex(h) for h in hashes], pa.binary(16)),
            "num_vertices": pa.array(num_vertices, pa.uint8()),
            "edges": pa.array(edges, pa.uint32()),
            "ops": pa.array([pack_ops(ops) for ops in op_lists], pa.uint16()),
            "cifar10_test": pa.array(accuracy, pa.float32()),
            "params": pa.array(source.column("trainable_parameters").to_numpy().astype(np.int32), pa.int32()),
        },
        schema=TABLE_SCHEMA,
    )
    best = int(np.argmax(accuracy))
    if not (hashes == NB101_EXAMPLE_HASH).any():
        raise ValueError(f"the NB101 table must hold the benchmark's example cell {NB101_EXAMPLE_HASH}")
    if hashes[best] != NB101_BEST[0] or abs(float(accuracy[best]) - NB101_BEST[1]) > 5e-4:
        raise ValueError(f"the best NB101 cell must be {NB101_BEST[0]} at {NB101_BEST[1]} %")
    # each checked row is a pruned, valid cell (NB101Cell refuses others) whose hash is the row's
    checked = np.random.default_rng(0).choice(NUM_CELLS, size=NB101_HASH_CHECKS, replace=False)
    for row in [0, best, *checked.tolist()]:
        matrix = unpack_edges(int(edges[row]), int(num_vertices[row]))
        cell = NB101Cell(tuple(map(tuple, matrix.tolist())), tuple(op_lists[row]))
        if cell.hash() != hashes[row]:
            raise ValueError(f"NB101 row {row}: its matrix and ops hash to {cell.hash()}, not {hashes[row]}")
    return table


def convert_nb101_table(raw: Path, out: Path) -> None:
    """Write ``nb101.parquet`` (every NAS-Bench-101 cell) from the gathered csv.gz to ``out``."""
    pq.write_table(
        nb101_table_rows(raw),
        out,
        compression="zstd",
        compression_level=19,
        use_dictionary=["num_vertices", "ops"],
    )


def convert_images(raw: Path, out_dir: Path) -> None:
    for name, file in IMAGE_SETS.items():
        data = np.load(raw / "images" / file)
        labels = data["labels"].astype(np.int16)
        if name == "imagenet16":
            labels = labels - 1  # the raw file is 1-indexed; ship 0-indexed class ids
        np.savez_compressed(out_dir / f"{name}.npz", images=data["images_uint8_nchw"], labels=labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", type=Path, help="the raw data directory (with nb201/ and images/)")
    args = parser.parse_args()
    package = Path(__file__).resolve().parent  # search_spaces/
    convert_nb201(args.raw, package / "nb201" / "nb201.parquet")
    convert_nb101(args.raw, package / "nb101" / "nb101_sample500.parquet")
    convert_nb101_table(args.raw, package / "nb101" / "nb101.parquet")
    convert_images(args.raw, package.parent / "scoring" / "images")


if __name__ == "__main__":
    main()
