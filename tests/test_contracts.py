"""Contract suites that every implementation of an interface inherits (as Optuna's ``SamplerTestCase``):
every algorithm on every registered space, every oracle, every scoring pool. A space, algorithm or
oracle registered later joins these tests with no edit here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from orchestrator.algorithms import ALGORITHMS, SearchParams, make_searcher
from orchestrator.oracles import LookupOracle, NoBenchmarkOracle, TrainingOracle, open_oracle
from scoring.scorer import ScorerConfig
from scoring.service import InlinePool
from search_spaces import available_spaces, get_space, open_benchmark, space_entry
from search_spaces.core.records import Kind, Phase, Result, Status

FIXTURES = Path(__file__).parent / "fixtures"
SPACES = available_spaces()
PARAMS = SearchParams(n=8, m=6, population_size=4, sample_size=2)


def _benchmark(name: str):
    entry = space_entry(name)
    path = FIXTURES / entry.test_fixture if entry.test_fixture else None
    return open_benchmark(get_space(name), None if path is None else str(path))


def _drive(searcher, space, steps: int):
    """Ask/tell ``steps`` times with a synthetic value of each cell (every 7th trial fails)."""
    told = []
    for step in range(steps):
        trial = searcher.ask()
        if trial is None:
            break
        value = float(sum(map(ord, space.key(space.parse(trial.arch)))) % 97)
        if step % 7 == 6:
            result = Result(Status.FAILED, error="injected")
        elif trial.kind is Kind.SCORE:
            result = Result(Status.OK, value=value, score=value, proxy_scores={"naswot": value})
        else:
            cost = float(len(trial.arch) % 13 + 1)  # a recorded cost, for the multi-objective searchers
            result = Result(Status.OK, value=value, fitness=value, metrics={"cell_latency_ms": cost})
        searcher.tell(trial, result)
        told.append((trial, result))
    return told


@pytest.fixture(scope="module", params=SPACES)
def space(request):
    return get_space(request.param)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_on_every_space(algorithm, space):
    """Valid cells of the space, unique increasing ids, parents that were told, mutations that change
    the cell, and the same trials from the same seed."""
    runs = []
    for _ in range(2):
        searcher = make_searcher(algorithm, space, np.random.default_rng(3), PARAMS)
        told = _drive(searcher, space, 24)
        assert told, f"{algorithm} asked nothing on {space.name}"
        ids = [t.trial_id for t, _ in told]
        assert ids == sorted(set(ids))
        keys = {}
        for trial, _result in told:
            cell = space.parse(trial.arch)
            assert space.format(cell) == trial.arch
            keys[trial.trial_id] = space.key(cell)
            if trial.phase is Phase.CHILD:
                assert trial.parent in keys and keys[trial.parent] != keys[trial.trial_id]
        best = searcher.best()
        assert best is None or best[1].ok
        runs.append([(t.arch, t.kind, t.phase, t.parent) for t, _ in told])
    assert runs[0] == runs[1]


def _oracles():
    out = []
    for name in SPACES:
        benchmark = _benchmark(name)
        if benchmark is not None:
            out.append(pytest.param(name, id=f"lookup-{name}"))
    return out


def _check_oracle(oracle, good: list[str]) -> None:
    assert tuple(m.name for m in oracle.metric_specs) == tuple(oracle.metric_names)
    assert all(m.unit for m in oracle.metric_specs)
    bad = oracle.evaluate("not a cell")  # a candidate's fault is a FAILED result, never a raise
    assert bad.status is Status.FAILED and bad.error
    assert isinstance(oracle.metrics("not a cell"), dict)
    for arch in good:
        result = oracle.evaluate(arch)
        assert set(result.metrics) <= set(oracle.metric_names)
        if result.ok:
            assert math.isfinite(result.fitness) and result.fitness == result.value
            assert result.cost_s >= 0 and (oracle.cost_name is not None or result.cost_s == 0)


@pytest.mark.parametrize("name", _oracles())
def test_every_lookup_oracle(name):
    space, benchmark = get_space(name), _benchmark(name)
    space, oracle, _note = open_oracle(space, benchmark, evaluates=False, timed=False)
    assert isinstance(oracle, LookupOracle) and oracle.fitness_name in oracle.metric_names
    cells = benchmark.cells()
    good = space_entry(name).fixture_cells or tuple(
        space.format(c) for c in (cells[:3] if cells is not None else [space.sample(np.random.default_rng(1))])
    )
    _check_oracle(oracle, list(good))
    assert any(oracle.evaluate(a).ok for a in good)


def test_the_score_only_and_training_oracles():
    space = get_space("nats_sss")
    none = NoBenchmarkOracle(space.name)
    _check_oracle(none, [space.format(space.sample(np.random.default_rng(0)))])
    trained = TrainingOracle("cifar10", 12)
    assert trained.metric_names == (trained.fitness_name,) == ("cifar10_valid_12ep",)
    assert trained.metric_specs[0].reported
    _check_oracle(trained, [])


POOLS = [pytest.param("inline", id="inline"), pytest.param("ray", id="ray", marks=pytest.mark.ray)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", POOLS)
def test_every_scoring_pool(kind, request):
    """Same records for the same requests, a FAILED record (never a raise) for a bad cell, a hardware
    string, and close() that can be called twice."""
    config = ScorerConfig(batch_size=8, space_options=(("cells_per_stage", 1), ("channels", 4)))
    if kind == "inline":
        pool = InlinePool(config)
    else:
        request.getfixturevalue("ray_session")
        from cluster.ray_pool import RayScoringPool

        pool = RayScoringPool(config, workers=1, device="cpu")
    space = get_space("nb201")
    archs = [space.format(space.sample(np.random.default_rng(i))) for i in range(2)]
    try:
        first = pool.score_many([(a, 0) for a in archs])
        again = pool.score_many([(archs[1], 0), (archs[0], 0)])
        assert [r.score for r in first] == [r.score for r in reversed(again)]
        assert all(r.status is not Status.FAILED for r in first)
        broken = pool.score_many([("|bogus~0|", 0)])[0]
        assert broken.status is Status.FAILED and broken.error
        assert isinstance(pool.hardware, str)
        if kind == "ray":  # the bench's no-op requests: same dispatch, nothing built or scored
            noop = pool.noop_many([(a, 0) for a in archs])
            assert [r.arch for r in noop] == archs and all(r.status is Status.OK for r in noop)
            assert all(r.build_s == 0.0 and r.score_s == 0.0 and r.worker for r in noop)
    finally:
        pool.close()
    pool.close()
