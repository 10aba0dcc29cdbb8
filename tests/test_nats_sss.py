"""The NATS-Bench size space: indices, mutation, the network's parameter counts against the
benchmark's own records, lookups through nats_bench, and score-only searches without a benchmark."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from search_spaces import (
    ArchitectureNotInBenchmarkError,
    BenchmarkDataError,
    InvalidArchitectureError,
    NaswotError,
    get_space,
    open_benchmark,
)

FIXTURE = Path(__file__).parent / "fixtures" / "NATS-sss-v1_0-50262-simple"
FIXTURE_INDICES = (0, 11, 284)


@pytest.fixture(scope="module")
def space():
    return get_space("nats_sss")


@pytest.fixture(scope="module")
def api():
    import nats_bench

    return nats_bench.create(str(FIXTURE), "sss", fast_mode=True, verbose=False)


def test_indices_follow_the_benchmark_order(space, api):
    assert space.size == len(api) == 32768
    rng = np.random.default_rng(0)
    for index in [0, 1, 11, 284, 32767, *rng.integers(0, 32768, size=50)]:
        cell = space.from_index(int(index))
        assert space.format(cell) == api.arch(int(index))
        assert space.key(cell) == str(index) and space.index(cell) == index
    with pytest.raises(InvalidArchitectureError, match="index"):
        space.from_index(32768)
    with pytest.raises(InvalidArchitectureError, match="not one of"):
        space.parse("8:8:8:8:12")


def test_mutation_changes_one_layer_width(space):
    rng = np.random.default_rng(1)
    for _ in range(200):
        cell = space.sample(rng)
        child = space.mutate(cell, rng)
        changed = [a != b for a, b in zip(cell.channels, child.channels)]
        assert sum(changed) == 1


@pytest.mark.parametrize("index", FIXTURE_INDICES)
def test_network_params_equal_the_benchmark(space, api, index):
    cell = space.from_index(index)
    for dataset, classes in (("cifar10-valid", 10), ("cifar100", 100), ("ImageNet16-120", 120)):
        expected = api.get_cost_info(index, dataset)["params"]
        built = sum(p.numel() for p in space.build(cell, classes).parameters())
        assert built / 1e6 == pytest.approx(expected, abs=5e-7), (index, dataset)


def test_lookups_match_the_api(space, api):
    bench = open_benchmark(space, FIXTURE)
    for index in FIXTURE_INDICES:
        values = bench.lookup(space.from_index(index))
        more = api.get_more_info(index, "cifar10-valid", hp="90", is_random=False)
        assert values["cifar10_valid"] == pytest.approx(more["valid-accuracy"])
        twelve = api.get_more_info(index, "cifar10-valid", hp="12", is_random=False)
        assert values["cifar10_valid_12ep"] == pytest.approx(twelve["valid-accuracy"])
        assert values["train_time_12ep_s"] == pytest.approx(twelve["train-all-time"])
        test = api.get_more_info(index, "cifar10", hp="90", is_random=False)
        assert values["cifar10_test"] == pytest.approx(test["test-accuracy"])
        assert 0 < values["imagenet16_test"] < values["cifar100_test"] < values["cifar10_test"] < 100
    assert bench.lookup(space.from_index(11))["params_m"] == pytest.approx(0.049202)
    with pytest.raises(ArchitectureNotInBenchmarkError, match="no record of index 5"):
        bench.lookup(space.from_index(5))


def test_benchmark_directory_errors(space, tmp_path):
    assert open_benchmark(space) is None  # naswot ships no size-space table
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        open_benchmark(space, tmp_path / "nope")
    with pytest.raises(BenchmarkDataError, match="meta.pickle.pbz2"):
        open_benchmark(space, tmp_path)


def test_searches_that_evaluate_need_a_benchmark():
    from orchestrator.experiment import ExperimentConfig, prepare

    with pytest.raises(NaswotError, match="needs the full benchmark of nats_sss"):
        prepare(ExperimentConfig(algorithm="rea", space="nats_sss", budget_s=100.0, executor="inline", store=None))


@pytest.mark.timeout(300)
def test_naswot_runs_score_only_without_a_benchmark(tmp_path, capsys):
    from orchestrator.experiment import ExperimentConfig, run_experiment
    from orchestrator.history import load_history, read_config
    from orchestrator.report import format_table, summarise

    config = ExperimentConfig(
        algorithm="naswot", space="nats_sss", n=3, batch_size=8, executor="inline", store=None, runs=1
    )
    outcomes = run_experiment(config, tmp_path / "run", progress=False)
    assert "scores only" in capsys.readouterr().err
    assert outcomes[0].told == 3 and outcomes[0].failed == 0
    history = load_history(tmp_path / "run")
    assert len(history) == 3 and history["score"].notna().all()
    assert set(history["arch_key"]) <= {str(i) for i in range(32768)}
    assert not any(c.endswith(("_valid", "_test")) for c in history.columns)  # no benchmark, no metric columns
    assert read_config(tmp_path / "run")["benchmark"]["name"] is None
    table = format_table(summarise(history))
    assert "naswot" in table and "C10" not in table


@pytest.mark.timeout(300)
def test_naswot_history_has_the_benchmark_metrics(tmp_path):
    from orchestrator.experiment import ExperimentConfig, run_experiment
    from orchestrator.history import load_history, read_config

    config = ExperimentConfig(
        algorithm="naswot",
        space="nats_sss",
        n=2,
        batch_size=8,
        executor="inline",
        store=None,
        benchmark_path=str(FIXTURE),
    )
    run_experiment(config, tmp_path / "run", progress=False)
    history = load_history(tmp_path / "run")
    record = read_config(tmp_path / "run")["benchmark"]
    names = [m["name"] for m in record["metrics"]]
    assert record["name"] == "nats-sss" and "cifar10_valid_12ep" in names
    assert all(name in history.columns for name in names)
    # the sampled cells are not among the fixture's three records: their metrics are NaN, the scores stand
    assert history["score"].notna().all() and all(math.isnan(v) for v in history["cifar10_valid"])
