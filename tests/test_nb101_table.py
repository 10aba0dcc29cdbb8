"""The embedded table of every NAS-Bench-101 cell: its contents, lookups by hash and by cell, and
networks built from its stored specs with the benchmark's parameter counts."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from search_spaces import ArchitectureNotInBenchmarkError, BenchmarkDataError, get_space, open_benchmark
from search_spaces.nb101.benchmark import NB101Benchmark, NB101SampleTable
from search_spaces.nb101.network import build_network
from search_spaces.nb101.space import NUM_CELLS, make_cell, parse_cell
from search_spaces.nb101.table import (
    TABLE_SCHEMA,
    NB101Table,
    embedded_table,
    pack_edges,
    pack_ops,
    unpack_edges,
    unpack_ops,
)

EXAMPLE_HASH = "00005c142e6f48ac74fdcf73e3439874"  # the benchmark's example cell
BEST_HASH = "02e5a0247bbdcf2860b7e96f74961594"  # its best mean test accuracy
BEST_PARAMS = 32_426_634


@pytest.fixture(scope="module")
def space():
    return get_space("nb101")


@pytest.fixture(scope="module")
def bench(space):
    return open_benchmark(space)


@pytest.fixture(scope="module")
def table():
    return embedded_table()


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _relabelled(cell, rng):
    """The same graph with its interior vertices in another random topological order."""
    n, adj = cell.num_vertices, cell.array
    order = [0]
    while len(order) < n - 1:
        ready = [v for v in range(1, n - 1) if v not in order and all(u in order for u in np.flatnonzero(adj[:, v]))]
        order.append(ready[int(rng.integers(len(ready)))])
    order.append(n - 1)
    return make_cell(adj[np.ix_(order, order)], [cell.ops[v] for v in order])


def test_the_table_holds_every_cell_with_the_benchmarks_numbers(bench, table):
    assert isinstance(bench, NB101Benchmark) and len(bench) == len(table) == NUM_CELLS == 423_624
    assert bench.cells() is None and bench.cost_name is None
    assert bench.fitness_names == ("cifar10_test",) and bench.default_fitness == "cifar10_test"
    assert [m.name for m in bench.metrics] == ["cifar10_valid", "cifar10_test", "params_m"]
    assert EXAMPLE_HASH in table and table.row_of(EXAMPLE_HASH) == 0  # sorted by hash
    best = int(np.argmax(table.cifar10_test))
    assert table.key_at(best) == BEST_HASH
    assert bench.lookup_key(BEST_HASH)["cifar10_test"] == pytest.approx(94.318, abs=5e-4)
    assert bench.lookup_key(BEST_HASH)["params_m"] == BEST_PARAMS / 1e6
    assert [int((table.num_vertices == n).sum()) for n in range(2, 8)] == [1, 6, 84, 2441, 62010, 359082]
    assert 89.67 < float(np.mean(table.cifar10_test)) < 89.69


def test_lookups_by_hash_and_by_any_labelling_agree(space, bench, table):
    rng = np.random.default_rng(0)
    rows = [0, len(table) - 1, *rng.choice(len(table), size=300, replace=False).tolist()]
    for row in rows:  # a few hundred lookups by hash: each finds its own row
        key = table.key_at(row)
        assert table.row_of(key) == row
        values = bench.lookup_key(key)
        assert values["cifar10_test"] == float(table.cifar10_test[row])
        assert values["params_m"] == int(table.params[row]) / 1e6
    for row in rows[:40]:  # the stored cell and a relabelling of it find the same record
        key = table.key_at(row)
        cell = bench.stored_cell(key)
        assert space.key(cell) == key
        other = _relabelled(cell, rng)
        assert bench.lookup(other) == bench.lookup(cell) == bench.lookup_key(key)
        assert space.parse(space.format(cell)) == cell


def test_validation_accuracy_comes_from_the_sample_and_is_nan_elsewhere(space, bench):
    sample = NB101SampleTable(space)
    for cell in sample.cells():
        assert bench.lookup(cell)["cifar10_valid"] == sample.lookup(cell)["cifar10_valid"]
    assert math.isnan(bench.lookup_key(BEST_HASH)["cifar10_valid"])  # not among the sample's 292


@pytest.mark.parametrize(
    "key", ["0" * 32, "f" * 32, EXAMPLE_HASH[:31], EXAMPLE_HASH.upper(), "0000_c142e6f48ac74fdcf73e3439874", "x", 12]
)
def test_a_hash_the_table_lacks_is_a_clear_error(bench, table, key):
    assert table.row_of(key) is None and key not in table
    with pytest.raises(ArchitectureNotInBenchmarkError, match="no NAS-Bench-101 cell has the hash"):
        bench.lookup_key(key)
    with pytest.raises(KeyError):
        bench.stored_cell(key)


def test_a_foreign_object_is_not_a_cell(bench):
    for thing in (object(), "011/001/000|input,conv3x3-bn-relu,output", None):
        with pytest.raises(ArchitectureNotInBenchmarkError, match="not a NAS-Bench-101 cell"):
            bench.lookup(thing)


def test_packed_columns_round_trip(table):
    rng = np.random.default_rng(1)
    for row in rng.choice(len(table), size=200, replace=False):
        matrix, ops = table.spec_at(int(row))
        assert pack_edges(matrix) == int(table.edges[row]) and pack_ops(ops) == int(table.ops[row])
        n = int(table.num_vertices[row])
        assert np.array_equal(unpack_edges(pack_edges(matrix), n), matrix) and unpack_ops(pack_ops(ops), n) == ops
    from search_spaces.convert import _nb101_matrix_bits

    texts = np.array(["0110|0001|0001|0000", "011|001|000", "0100|0011|0001|0000"])
    bits = _nb101_matrix_bits(texts, np.array([4, 3, 4], dtype=np.uint8))
    assert bits.tolist() == [pack_edges(np.array([[int(c) for c in r] for r in text.split("|")])) for text in texts]


def _tiny_table(hashes: list[str]) -> pa.Table:
    n = len(hashes)
    return pa.table(
        {
            "hash": pa.array([bytes.fromhex(h) for h in hashes], pa.binary(16)),
            "num_vertices": pa.array([2] * n, pa.uint8()),
            "edges": pa.array([1] * n, pa.uint32()),
            "ops": pa.array([0] * n, pa.uint16()),
            "cifar10_test": pa.array(np.arange(n, dtype=np.float32)),
            "params": pa.array(list(range(n)), pa.int32()),
        },
        schema=TABLE_SCHEMA,
    )


def test_hashes_sharing_a_64_bit_prefix_are_told_apart_and_bad_tables_refused():
    shared = "0123456789abcdef"
    hashes = [shared + "0" * 16, shared + "0" * 15 + "1", shared + "f" * 16, "f" * 32]
    table = NB101Table(_tiny_table(hashes))
    assert [table.row_of(h) for h in hashes] == [0, 1, 2, 3]
    assert table.row_of(shared + "0" * 15 + "2") is None
    assert table.key_at(2) == hashes[2]
    with pytest.raises(BenchmarkDataError, match="unique and sorted"):
        NB101Table(_tiny_table(hashes[::-1]))
    with pytest.raises(BenchmarkDataError, match="columns"):
        NB101Table(_tiny_table(hashes).drop_columns(["params"]))


def test_built_networks_have_the_tables_parameter_counts(space, bench, table):
    """Built from the stored spec (``nasbench_pytorch``, stem 128), a network has exactly the
    benchmark's ``trainable_parameters``: for the best cell and for seeded random cells."""
    assert _params(space.build(bench.stored_cell(BEST_HASH), 10)) == BEST_PARAMS
    rng = np.random.default_rng(2026)
    for row in rng.choice(len(table), size=4, replace=False):
        cell = bench.stored_cell(table.key_at(int(row)))
        assert _params(space.build(cell, 10)) == int(table.params[row])


def test_a_relabelled_cell_is_built_from_the_stored_spec(space, bench):
    """NASLib's labelling of hash 10a78963... gives the output's spare channels to other vertices:
    its own network has 11,514 parameters more than the benchmark's, which ``build`` returns."""
    naslib = parse_cell("01111/00001/00011/00001/00000|input,conv3x3-bn-relu,conv3x3-bn-relu,maxpool3x3,output")
    stored = parse_cell("01111/00101/00001/00001/00000|input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,output")
    assert space.key(naslib) == space.key(stored) == "10a7896342292e4a39eccf9924bcb40e" and naslib != stored
    assert bench.stored_cell(space.key(naslib)) == stored
    assert _params(build_network(naslib.array, naslib.ops, 10, 128, 3, 3)) == 3_833_519  # NASLib's record
    assert _params(space.build(naslib, 10)) == _params(space.build(stored, 10)) == 3_822_005
    assert bench.lookup(naslib)["params_m"] == 3.822005
