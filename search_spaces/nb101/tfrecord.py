"""A reader of the official NAS-Bench-101 TFRecord file (``nasbench_only108.tfrecord`` or
``nasbench_full.tfrecord``), without TensorFlow.

Each TFRecord is ``uint64 length, uint32 masked CRC32-C of the length, data, uint32 masked CRC32-C of
the data`` (little endian); the data is a JSON list ``[module_hash, epochs, adjacency digits,
comma-separated ops, base64 ModelMetrics protobuf]``. The protobuf is decoded here from its wire
format (fields of ``nasbench/lib/model_metrics.proto``: ``ModelMetrics{1: repeated EvaluationData,
2: int32 trainable_parameters, 3: double total_time}``, ``EvaluationData{1: current_epoch,
2: training_time, 3: train_accuracy, 4: validation_accuracy, 5: test_accuracy (doubles),
6: string checkpoint_path}``). A cell's metrics are the means over the benchmark's repeats of the
final evaluation (accuracies in %). Unlike the embedded table, the file has validation accuracies
and training times, so budgeted searches can run on it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from search_spaces.core.benchmark import MetricSpec
from search_spaces.core.errors import ArchitectureNotInBenchmarkError, BenchmarkDataError, InvalidArchitectureError
from search_spaces.nb101.space import NUM_CELLS, NB101Cell, NB101Space, make_cell

TFRECORD_NAMES = ("nasbench_only108.tfrecord", "nasbench_full.tfrecord")
TFRECORD_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "cifar10_valid",
        "%",
        "CIFAR-10 validation accuracy after 108 epochs, mean of the repeats",
        "C10 valid",
        reported=True,
    ),
    MetricSpec(
        "cifar10_test", "%", "CIFAR-10 test accuracy after 108 epochs, mean of the repeats", "C10 test", reported=True
    ),
    MetricSpec("train_time_s", "s", "seconds to train 108 epochs (TPU v2), mean of the repeats"),
    MetricSpec("params_m", "M", "trainable parameters (millions) of the benchmark network"),
)


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` (pure Python; about 10 MB/s)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate the CRC-32C right by 15 bits and add 0xa282ead8."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def iter_tfrecord(path: str | Path, check_data_crc: bool = False) -> Iterator[bytes]:
    """The records of a TFRecord file, in order.

    The length's CRC is always checked; the data's CRC only with ``check_data_crc`` (pure Python,
    about a minute for the 500 MB benchmark file).

    Raises:
        BenchmarkDataError: a truncated record or a CRC mismatch (with the record's offset).
    """
    with open(path, "rb") as fh:
        offset = 0
        while True:
            header = fh.read(12)
            if not header:
                return
            if len(header) < 12:
                raise BenchmarkDataError(f"{str(path)!r}: truncated TFRecord header at byte {offset}")
            (length,) = struct.unpack("<Q", header[:8])
            (length_crc,) = struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != length_crc:
                raise BenchmarkDataError(f"{str(path)!r}: bad length CRC at byte {offset}: not a TFRecord file")
            data = fh.read(length)
            footer = fh.read(4)
            if len(data) < length or len(footer) < 4:
                raise BenchmarkDataError(f"{str(path)!r}: truncated TFRecord at byte {offset}")
            if check_data_crc and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise BenchmarkDataError(f"{str(path)!r}: bad data CRC of the record at byte {offset}")
            offset += 16 + length
            yield data


def write_tfrecord(path: str | Path, records: Sequence[bytes]) -> None:
    """Write ``records`` as a TFRecord file (for tests and small derived files)."""
    with open(path, "wb") as fh:
        for data in records:
            length = struct.pack("<Q", len(data))
            fh.write(length + struct.pack("<I", masked_crc32c(length)))
            fh.write(data + struct.pack("<I", masked_crc32c(data)))


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


WireValue = int | float | bytes


def decode_fields(buf: bytes) -> list[tuple[int, int, WireValue]]:
    """The (field number, wire type, value) triples of a protobuf message, in order.

    Values: an int for varints (type 0), bytes for length-delimited fields (type 2), a float for
    64-bit fields (type 1) and the raw 4 bytes for 32-bit fields (type 5).

    Raises:
        ValueError: malformed or unsupported (group) wire data.
    """
    fields: list[tuple[int, int, WireValue]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: WireValue
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise ValueError("truncated 64-bit field")
            (value,) = struct.unpack("<d", buf[pos : pos + 8])
            pos += 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated length-delimited field")
            value = buf[pos : pos + size]
            pos += size
        elif wire == 5:
            if pos + 4 > len(buf):
                raise ValueError("truncated 32-bit field")
            value = buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, wire, value))
    return fields


_EVAL_FIELDS = {
    1: "current_epoch",
    2: "training_time",
    3: "train_accuracy",
    4: "validation_accuracy",
    5: "test_accuracy",
}


def decode_model_metrics(raw: bytes) -> dict:
    """Decode a serialized ``nasbench.ModelMetrics``: ``{"evaluation_data": [dict, ...],
    "trainable_parameters": int, "total_time": float}`` (unknown fields are ignored).

    Raises:
        ValueError: malformed wire data.
    """
    out: dict = {"evaluation_data": [], "trainable_parameters": 0, "total_time": math.nan}
    for number, wire, value in decode_fields(raw):
        if number == 1 and isinstance(value, bytes):
            point: dict = {}
            for sub, sub_wire, sub_value in decode_fields(value):
                if sub in _EVAL_FIELDS and sub_wire == 1:
                    point[_EVAL_FIELDS[sub]] = sub_value
                elif sub == 6 and isinstance(sub_value, bytes):
                    point["checkpoint_path"] = sub_value.decode("utf-8", "replace")
            out["evaluation_data"].append(point)
        elif number == 2 and wire == 0 and isinstance(value, int):
            out["trainable_parameters"] = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 3 and wire == 1:
            out["total_time"] = value
    return out


def decode_record(data: bytes) -> tuple[str, int, np.ndarray, list[str], dict]:
    """One benchmark record: (module hash, epochs, adjacency matrix, ops, decoded metrics).

    Raises:
        BenchmarkDataError: the record is not a NAS-Bench-101 record.
    """
    try:
        module_hash, epochs, raw_adjacency, raw_ops, raw_metrics = json.loads(data.decode("utf-8"))
        dim = math.isqrt(len(raw_adjacency))
        if dim * dim != len(raw_adjacency):
            raise ValueError(f"adjacency of {len(raw_adjacency)} digits is not square")
        matrix = np.array([int(c) for c in raw_adjacency], dtype=np.int8).reshape(dim, dim)
        metrics = decode_model_metrics(base64.b64decode(raw_metrics))
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        raise BenchmarkDataError(f"not a NAS-Bench-101 record: {exc}") from exc
    return str(module_hash), int(epochs), matrix, raw_ops.split(","), metrics


class NB101TFRecordBenchmark:
    """A user's official NAS-Bench-101 TFRecord file, read without TensorFlow.

    Args:
        path: ``nasbench_only108.tfrecord`` (or ``nasbench_full.tfrecord``).
        epochs: which training length to read (108; the full file also has 4, 12 and 36).
        check_data_crc: verify every record's data CRC too (slow in pure Python).

    Raises:
        BenchmarkDataError: a missing file, a malformed record, or no record of ``epochs``.
    """

    name = "nb101-tfrecord"
    space_name = "nb101"
    metrics = TFRECORD_METRICS
    fitness_names = ("cifar10_valid",)
    default_fitness = "cifar10_valid"
    cost_name = "train_time_s"

    def __init__(
        self, path: str | Path, space: NB101Space | None = None, epochs: int = 108, check_data_crc: bool = False
    ) -> None:
        self.path = Path(path).expanduser()
        self.space = space or NB101Space()
        self.epochs = int(epochs)
        if not self.path.is_file():
            raise BenchmarkDataError(f"NAS-Bench-101 file {str(self.path)!r} does not exist")
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        params: dict[str, float] = {}
        graphs: dict[str, tuple[np.ndarray, list[str]]] = {}
        for data in iter_tfrecord(self.path, check_data_crc):
            module_hash, rec_epochs, matrix, ops, metrics = decode_record(data)
            if rec_epochs != self.epochs:
                continue
            evaluations = metrics["evaluation_data"]
            if not evaluations:
                raise BenchmarkDataError(f"{str(self.path)!r}: record of {module_hash} has no evaluation data")
            final = evaluations[-1]
            values = np.array(
                [
                    100.0 * final.get("validation_accuracy", math.nan),
                    100.0 * final.get("test_accuracy", math.nan),
                    final.get("training_time", math.nan),
                ]
            )
            if module_hash in sums:
                sums[module_hash] += values
                counts[module_hash] += 1
            else:
                sums[module_hash] = values
                counts[module_hash] = 1
                params[module_hash] = metrics["trainable_parameters"] / 1e6
                graphs[module_hash] = (matrix, ops)
        if not sums:
            raise BenchmarkDataError(f"{str(self.path)!r} holds no NAS-Bench-101 record of {self.epochs} epochs")
        self._keys = list(sums)
        self._row_of = {key: i for i, key in enumerate(self._keys)}
        means = np.array([sums[k] / counts[k] for k in self._keys])
        self._metrics = {
            "cifar10_valid": means[:, 0],
            "cifar10_test": means[:, 1],
            "train_time_s": means[:, 2],
            "params_m": np.array([params[k] for k in self._keys]),
        }
        self.repeats = np.array([counts[k] for k in self._keys])
        self._graphs = graphs

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, arch: NB101Cell) -> dict[str, float]:
        """108-epoch validation and test accuracy (%), training time (s) and params (M) of ``arch``.

        Raises:
            ArchitectureNotInBenchmarkError: no record has the cell's hash.
        """
        key = self.space.key(arch)
        row = self._row_of.get(key)
        if row is None:
            raise ArchitectureNotInBenchmarkError(
                f"NB101 cell {self.space.format(arch)} (hash {key}) is not in {str(self.path)!r}"
            )
        return {name: float(values[row]) for name, values in self._metrics.items()}

    def cells(self) -> Sequence[NB101Cell] | None:
        """``None`` for the whole benchmark (423,624 cells); a partial file's cells otherwise."""
        if len(self._keys) >= NUM_CELLS:
            return None
        out = []
        for key in self._keys:
            matrix, ops = self._graphs[key]
            try:
                out.append(make_cell(matrix, ops))
            except InvalidArchitectureError as exc:
                raise BenchmarkDataError(f"{str(self.path)!r}: record {key} is not a valid cell: {exc}") from exc
        return tuple(out)
