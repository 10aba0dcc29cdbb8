from __future__ import annotations

import math
from pathlib import Path

import pytest

from search_spaces import ArchitectureNotInBenchmarkError, BenchmarkDataError, UnknownNameError
from search_spaces.nb201.benchmark import NATSTopologyBenchmark, open_nb201_benchmark

FIXTURE = Path(__file__).parent / "fixtures" / "NATS-tss-v1_0-3ffb9-simple"


def test_known_values(nb201, nb201_table):
    best = nb201.from_index(6111)
    assert nb201_table.accuracy(best, "cifar10", "test") == pytest.approx(94.373, abs=1e-3)
    assert nb201_table.accuracy(best, "cifar10", "valid") == pytest.approx(91.607, abs=1e-3)
    assert nb201_table.accuracy(nb201.from_index(9930), "cifar100", "test") == pytest.approx(73.513, abs=1e-3)
    assert nb201_table.accuracy(nb201.from_index(857), "imagenet16", "test") == pytest.approx(47.311, abs=1e-3)
    assert nb201_table.train_time_12ep(nb201.from_index(11)) == pytest.approx(149.5446815)
    assert nb201_table.column("cifar10_test").max() == pytest.approx(94.37333333)
    assert nb201_table.column("cifar10_test").argmax() == 6111
    assert nb201_table.column("cifar10_test").mean() == pytest.approx(87.06, abs=0.01)


def test_bad_lookups_raise(nb201, nb201_table):
    cell = nb201.from_index(0)
    with pytest.raises(UnknownNameError, match="dataset 'svhn'.*cifar10"):
        nb201_table.accuracy(cell, "svhn", "test")
    with pytest.raises(UnknownNameError, match="split 'train'"):
        nb201_table.accuracy(cell, "cifar10", "train")
    with pytest.raises(UnknownNameError, match="cifar100/valid"):
        nb201_table.accuracy(cell, "cifar100", "valid")
    with pytest.raises(UnknownNameError, match="column"):
        nb201_table.column("nope")


def test_nats_directory_matches_embedded_table(nb201, nb201_table):
    bench = open_nb201_benchmark(FIXTURE, nb201)
    for index in (0, 11, 284):
        cell = nb201.from_index(index)
        for dataset, split in [
            ("cifar10", "test"),
            ("cifar100", "test"),
            ("imagenet16", "test"),
            ("cifar10", "valid"),
            ("cifar10", "valid_12ep"),
        ]:
            assert bench.accuracy(cell, dataset, split) == pytest.approx(
                nb201_table.accuracy(cell, dataset, split), abs=1e-4
            ), (index, dataset, split)
        assert bench.train_time_12ep(cell) == pytest.approx(nb201_table.train_time_12ep(cell), rel=1e-6)
    # NATS has splits the embedded table does not
    assert 0 < bench.accuracy(nb201.from_index(11), "imagenet16", "valid") < 100


def test_nats_missing_architecture_and_directory(nb201, tmp_path):
    bench = NATSTopologyBenchmark(FIXTURE, nb201)
    with pytest.raises(ArchitectureNotInBenchmarkError, match="no record of index 5"):
        bench.accuracy(nb201.from_index(5), "cifar10", "test")
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        NATSTopologyBenchmark(tmp_path / "nope")
    with pytest.raises(BenchmarkDataError, match="meta.pickle.pbz2"):
        NATSTopologyBenchmark(tmp_path)


def test_nb201_sources_implement_the_benchmark_seam(nb201, nb201_table):
    from search_spaces.core.benchmark import Benchmark, metric_names

    nats = NATSTopologyBenchmark(FIXTURE, nb201)
    expected = (
        "cifar10_valid",
        "cifar10_test",
        "cifar100_valid",
        "cifar100_test",
        "imagenet16_valid",
        "imagenet16_test",
        "cifar10_valid_12ep",
        "train_time_12ep_s",
        "params_m",
    )
    for bench in (nb201_table, nats):
        assert isinstance(bench, Benchmark) and metric_names(bench) == expected
        assert bench.default_fitness == "cifar10_valid_12ep" and bench.cost_name == "train_time_12ep_s"
        assert bench.cells() is None
    cell = nb201.from_index(11)
    embedded, real = nb201_table.lookup(cell), nats.lookup(cell)
    assert embedded["cifar10_valid_12ep"] == pytest.approx(nb201_table.accuracy(cell, "cifar10", "valid_12ep"))
    assert embedded["train_time_12ep_s"] == pytest.approx(149.5446815)
    assert embedded["params_m"] == pytest.approx(real["params_m"]) == pytest.approx(0.802426)
    assert math.isnan(embedded["cifar100_valid"]) and 0 < real["cifar100_valid"] < 100  # the table lacks it
    for name in expected:
        if not math.isnan(embedded[name]):
            assert embedded[name] == pytest.approx(real[name], rel=1e-5), name
    with pytest.raises(ArchitectureNotInBenchmarkError, match="no record of index 5"):
        nats.lookup(nb201.from_index(5))


def test_lookup_oracle_over_any_benchmark(nb201, nb201_table):
    from orchestrator.oracles import LookupOracle

    class Exploding:  # a benchmark whose lookup fails in an unexpected way
        name, space_name = "boom", "nb201"
        metrics = nb201_table.metrics
        fitness_names, default_fitness, cost_name = ("cifar10_valid_12ep",), "cifar10_valid_12ep", "train_time_12ep_s"

        def lookup(self, arch):
            raise RuntimeError("disk on fire")

        def cells(self):
            return None

    oracle = LookupOracle(nb201, nb201_table)
    ok = oracle.evaluate(nb201.format(nb201.from_index(11)))
    assert ok.ok and ok.fitness == pytest.approx(63.27799998) and ok.cost_s == pytest.approx(149.5446815)
    assert set(ok.metrics) == set(oracle.metric_names) and oracle.fitness_name == "cifar10_valid_12ep"
    assert LookupOracle(nb201, nb201_table, ("cifar10", "valid")).fitness_name == "cifar10_valid"
    with pytest.raises(UnknownNameError, match="fitness metric"):
        LookupOracle(nb201, nb201_table, "cifar100_valid")
    boom = LookupOracle(nb201, Exploding())
    failed = boom.evaluate(nb201.format(nb201.from_index(1)))
    assert failed.status.value == "failed" and "RuntimeError: disk on fire" in failed.error
    assert all(math.isnan(v) for v in boom.metrics(nb201.format(nb201.from_index(1))).values())
    assert not oracle.evaluate("not a cell").ok
