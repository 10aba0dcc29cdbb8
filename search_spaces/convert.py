"""Maintainer script: convert the gathered raw data into the compact files shipped in the package.

Run once from a checkout that has the raw data beside it::

    python -m search_spaces.benchmarks.convert ../shared/data

It writes ``search_spaces/data/nb201.parquet``, ``search_spaces/data/nb101_sample500.parquet`` and
``scoring/images/*.npz``. The package never
reads the raw directory at run time.
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
    root = Path(__file__).resolve().parents[2]
    convert_nb201(args.raw, root / "search_spaces" / "data" / "nb201.parquet")
    convert_nb101(args.raw, root / "search_spaces" / "data" / "nb101_sample500.parquet")
    convert_images(args.raw, root / "scoring" / "images")


if __name__ == "__main__":
    main()
