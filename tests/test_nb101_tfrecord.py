"""The NAS-Bench-101 TFRecord reader, on a small file this test writes in the official format.

The ModelMetrics protobufs are serialised by the protobuf runtime itself (a message class built
from the fields of nasbench/lib/model_metrics.proto), so the reader's wire-format decoder is
checked against an independent encoder.
"""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from search_spaces import ArchitectureNotInBenchmarkError, BenchmarkDataError, get_space, open_benchmark
from search_spaces.nb101.space import make_cell, parse_cell
from search_spaces.nb101.tfrecord import (
    NB101TFRecordBenchmark,
    crc32c,
    decode_model_metrics,
    iter_tfrecord,
    write_tfrecord,
)


def _metrics_class():
    f = descriptor_pb2.FileDescriptorProto(name="nb101_test_metrics.proto", package="nasbench_test", syntax="proto2")
    ev = f.message_type.add(name="EvaluationData")
    for number, name in enumerate(
        ["current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy"], start=1
    ):
        ev.field.add(name=name, number=number, type=descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE, label=1)
    ev.field.add(name="checkpoint_path", number=6, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=1)
    mm = f.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        type_name=".nasbench_test.EvaluationData",
        label=3,
    )
    mm.field.add(name="trainable_parameters", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32, label=1)
    mm.field.add(name="total_time", number=3, type=descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE, label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench_test.ModelMetrics"))


ModelMetrics = _metrics_class()

CELL_A = "0110/0001/0001/0000|input,conv3x3-bn-relu,maxpool3x3,output"
CELL_B = "011/001/000|input,conv1x1-bn-relu,output"


def _metrics(valid: float, test: float, seconds: float, params: int) -> bytes:
    m = ModelMetrics(trainable_parameters=params, total_time=seconds + 100)
    m.evaluation_data.add(current_epoch=0, training_time=0, train_accuracy=0.1, validation_accuracy=0.1)
    m.evaluation_data.add(current_epoch=54, training_time=seconds / 2, validation_accuracy=valid - 0.1)
    m.evaluation_data.add(
        current_epoch=108,
        training_time=seconds,
        train_accuracy=1.0,
        validation_accuracy=valid,
        test_accuracy=test,
        checkpoint_path="gs://x/model.ckpt-1",
    )
    return m.SerializeToString()


def _record(space, text: str, epochs: int, metrics: bytes, matrix=None, ops=None) -> bytes:
    cell = space.parse(text)
    matrix = cell.array if matrix is None else np.asarray(matrix)
    ops = list(cell.ops) if ops is None else ops
    adjacency = "".join(str(int(x)) for x in matrix.flatten())
    payload = [space.key(cell), epochs, adjacency, ",".join(ops), base64.b64encode(metrics).decode()]
    return json.dumps(payload).encode()


@pytest.fixture(scope="module")
def space():
    return get_space("nb101")


@pytest.fixture
def tfrecord(tmp_path, space):
    # CELL_A written unpruned and relabelled (vertex 4 hangs; vertices 1 and 2 swapped): the reader
    # keys records by the benchmark hash, so the canonical form finds it.
    raw_a = [
        [0, 1, 1, 0, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    ops_a = ["input", "maxpool3x3", "conv3x3-bn-relu", "output", "conv1x1-bn-relu"]
    # reorder so the output is last: the hanging vertex 4 before the output
    order = [0, 1, 2, 4, 3]
    raw_a = np.asarray(raw_a)[np.ix_(order, order)]
    ops_a = [ops_a[i] for i in order]
    assert space.key(make_cell(raw_a, ops_a)) == space.key(space.parse(CELL_A))
    records = [
        _record(space, CELL_A, 108, _metrics(0.90, 0.89, 1000.0, 1234567), raw_a, ops_a),
        _record(space, CELL_A, 108, _metrics(0.92, 0.91, 1100.0, 1234567), raw_a, ops_a),
        _record(space, CELL_A, 36, _metrics(0.50, 0.50, 300.0, 1234567), raw_a, ops_a),  # another length
        _record(space, CELL_B, 108, _metrics(0.85, 0.84, 700.0, 765432)),
    ]
    path = tmp_path / "nasbench_only108.tfrecord"
    write_tfrecord(path, records)
    return path


def test_crc32c_and_frame_layout(tfrecord):
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    data = tfrecord.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    first = next(iter_tfrecord(tfrecord, check_data_crc=True))
    assert len(first) == length and data[12 : 12 + length] == first
    assert len(list(iter_tfrecord(tfrecord, check_data_crc=True))) == 4


def test_decoder_reads_what_protobuf_wrote():
    decoded = decode_model_metrics(_metrics(0.9, 0.8, 1000.0, 1234567))
    assert decoded["trainable_parameters"] == 1234567
    assert decoded["total_time"] == pytest.approx(1100.0)
    assert len(decoded["evaluation_data"]) == 3
    final = decoded["evaluation_data"][-1]
    assert final == {
        "current_epoch": 108.0,
        "training_time": 1000.0,
        "train_accuracy": 1.0,
        "validation_accuracy": 0.9,
        "test_accuracy": 0.8,
        "checkpoint_path": "gs://x/model.ckpt-1",
    }


def test_lookups_average_the_repeats_of_108_epochs(space, tfrecord):
    bench = open_benchmark(space, tfrecord)
    assert isinstance(bench, NB101TFRecordBenchmark) and len(bench) == 2
    values = bench.lookup(space.parse(CELL_A))
    assert values == pytest.approx(
        {"cifar10_valid": 91.0, "cifar10_test": 90.0, "train_time_s": 1050.0, "params_m": 1.234567}
    )
    assert bench.lookup(space.parse(CELL_B))["cifar10_valid"] == pytest.approx(85.0)
    assert bench.cost_name == "train_time_s" and bench.default_fitness == "cifar10_valid"
    # a partial file says which cells it holds (the whole benchmark: None)
    assert {space.key(c) for c in bench.cells()} == {space.key(space.parse(t)) for t in (CELL_A, CELL_B)}
    other = parse_cell("0100/0010/0001/0000|input,conv3x3-bn-relu,conv3x3-bn-relu,output")
    with pytest.raises(ArchitectureNotInBenchmarkError, match="is not in"):
        bench.lookup(other)
    # the 36-epoch record is read when asked for
    assert NB101TFRecordBenchmark(tfrecord, space, epochs=36).lookup(space.parse(CELL_A))["cifar10_valid"] == 50.0
    # a directory holding the file opens too
    assert len(open_benchmark(space, tfrecord.parent)) == 2


def test_damaged_or_missing_files_are_clear_errors(space, tfrecord, tmp_path):
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        open_benchmark(space, tmp_path / "nope.tfrecord")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkDataError, match="holds none of"):
        open_benchmark(space, tmp_path / "empty")
    data = bytearray(tfrecord.read_bytes())
    data[20] ^= 0xFF  # one byte of the first record's data
    broken = tmp_path / "broken.tfrecord"
    broken.write_bytes(bytes(data))
    with pytest.raises(BenchmarkDataError, match="bad data CRC"):
        list(iter_tfrecord(broken, check_data_crc=True))
    truncated = tmp_path / "truncated.tfrecord"
    truncated.write_bytes(tfrecord.read_bytes()[:-7])
    with pytest.raises(BenchmarkDataError, match="truncated"):
        NB101TFRecordBenchmark(truncated, space)
    not_a_record = tmp_path / "text.tfrecord"
    not_a_record.write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(BenchmarkDataError, match="not a TFRecord"):
        NB101TFRecordBenchmark(not_a_record, space)
    with pytest.raises(BenchmarkDataError, match="no NAS-Bench-101 record of 4 epochs"):
        NB101TFRecordBenchmark(tfrecord, space, epochs=4)


def test_rea_runs_on_a_full_benchmark_file(space, tfrecord, tmp_path):
    """With a TFRecord holding the cells, evaluation works end to end (fitness and cost from it)."""
    from orchestrator.oracles import LookupOracle

    oracle = LookupOracle(space, open_benchmark(space, tfrecord))
    result = oracle.evaluate(CELL_A)
    assert result.ok and result.fitness == pytest.approx(91.0) and result.cost_s == pytest.approx(1050.0)
    failed = oracle.evaluate("0100/0010/0001/0000|input,conv3x3-bn-relu,conv3x3-bn-relu,output")
    assert not failed.ok and "ArchitectureNotInBenchmarkError" in failed.error
    assert all(np.isnan(v) for v in oracle.metrics("not a cell").values())
