"""The simulated-clock driver, the history, resume and failure outcomes (no Ray)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from orchestrator.driver import ResumeMismatchError, SimulatedDriver
from orchestrator.experiment import ExperimentConfig, run_experiment
from orchestrator.history import HISTORY_DIR, HistoryWriter, history_schema, load_history
from orchestrator.oracles import LookupOracle
from orchestrator.report import final_choices
from orchestrator.searchers import NASWOTSearch, RegularizedEvolution
from scoring.service import ScoringService
from search_spaces import UnknownNameError

from .fakes import FormulaPool


@pytest.fixture
def oracle(nb201, nb201_table):
    return LookupOracle(nb201, nb201_table)


def make_driver(nb201, oracle, searcher, workers=1, budget=None, pool=None, writer=None, seed=0, replay=None):
    pool = pool or FormulaPool()
    service = ScoringService(pool.config, pool, None, nb201)
    return SimulatedDriver(
        searcher,
        oracle=oracle,
        scoring=service,
        writer=writer,
        run_id="t",
        algorithm="x",
        seed=seed,
        arch_key=lambda a: nb201.key(nb201.parse(a)),
        workers=workers,
        budget_s=budget,
        replay=replay,
    )


def test_one_worker_clock_is_the_sum_of_costs_and_respects_the_budget(nb201, oracle, tmp_path):
    with HistoryWriter(tmp_path, metric_names=oracle.metric_names) as writer:
        driver = make_driver(
            nb201, oracle, RegularizedEvolution(nb201, np.random.default_rng(0)), budget=3000, writer=writer
        )
        outcome = driver.run()
    frame = load_history(tmp_path)
    assert outcome.stopped_by == "budget" and len(frame) == outcome.told > 10
    np.testing.assert_allclose(frame["sim_end_s"].to_numpy(), np.cumsum(frame["cost_s"].to_numpy()))
    assert frame["sim_end_s"].max() <= 3000
    assert (frame["cost_s"] > 0).all()
    # reported accuracies are the table's, fitness is the 12-epoch proxy
    row = frame.iloc[0]
    cell = nb201.parse(row["arch"])
    assert row["fitness"] == oracle.benchmark.accuracy(cell, "cifar10", "valid_12ep")
    assert row["cifar10_test"] == oracle.benchmark.accuracy(cell, "cifar10", "test")
    assert math.isnan(row["cifar100_valid"])


def test_parallel_workers_overlap_in_simulated_time(nb201, oracle, tmp_path):
    outcomes = {}
    for workers in (1, 4):
        with HistoryWriter(tmp_path / str(workers), metric_names=oracle.metric_names) as writer:
            outcomes[workers] = make_driver(
                nb201,
                oracle,
                RegularizedEvolution(nb201, np.random.default_rng(0)),
                workers=workers,
                budget=3000,
                writer=writer,
            ).run()
    assert outcomes[4].told > 2.5 * outcomes[1].told
    frame = load_history(tmp_path / "4")
    assert (frame["sim_start_s"] < frame["sim_end_s"]).all()
    assert frame["sim_end_s"].is_monotonic_increasing


def test_naswot_scores_are_prefetched_in_one_batch_and_time_is_the_makespan(nb201, oracle):
    pool = FormulaPool(cost_s=0.5)
    driver = make_driver(nb201, oracle, NASWOTSearch(nb201, np.random.default_rng(0), n=20), workers=4, pool=pool)
    outcome = driver.run()
    assert len(pool.calls) == 1 and len(pool.calls[0]) == 20  # all 20 scored together (W in flight)
    assert outcome.sim_time_s == pytest.approx(5 * 0.6)  # 20 cells of 0.6 s on 4 workers
    assert outcome.best[1].value == max(r for r in [pool.score_many([(t, 0)])[0].score for t, _ in pool.calls[0]])


def test_failures_and_nonfinite_are_recorded_not_zero(nb201, oracle, tmp_path):
    rng = np.random.default_rng(0)
    first = [nb201.format(nb201.sample(rng)) for _ in range(10)]  # what NASWOT(seed 0) will ask
    pool = FormulaPool(fail=first[:2], nonfinite=first[2:4])
    with HistoryWriter(tmp_path, metric_names=oracle.metric_names) as writer:
        outcome = make_driver(
            nb201, oracle, NASWOTSearch(nb201, np.random.default_rng(0), n=10), pool=pool, writer=writer
        ).run()
    frame = load_history(tmp_path)
    assert list(frame["status"][:4]) == ["failed", "failed", "nonfinite", "nonfinite"]
    assert frame["error"][0].startswith("RuntimeError") and math.isnan(frame["score"][0])
    assert frame["score"][2] == -math.inf
    assert outcome.failed == 4 and outcome.best[0].arch not in first[:4]
    assert (frame["score"].fillna(-1) != 0).all()


def test_history_schema_and_atomic_parts(nb201, oracle, tmp_path):
    with HistoryWriter(tmp_path, flush_every=7, metric_names=oracle.metric_names) as writer:
        make_driver(
            nb201, oracle, RegularizedEvolution(nb201, np.random.default_rng(0)), budget=2000, writer=writer
        ).run()
    parts = list((tmp_path / HISTORY_DIR).iterdir())
    assert len(parts) > 1 and all(p.name.startswith("part-") for p in parts)
    frame = pd.read_parquet(tmp_path / HISTORY_DIR)  # the user's recipe
    assert list(frame.columns) == history_schema(oracle.metric_names).names
    for column in (
        "run_id",
        "algorithm",
        "seed",
        "arch",
        "arch_key",
        "phase",
        "parent",
        "score",
        "score_s",
        "fitness",
        "sim_end_s",
        "wall_s",
        "worker",
        "status",
        "error",
        *oracle.metric_names,
    ):
        assert column in frame.columns
    # a stray temporary file (a write killed mid-way) is ignored by readers
    (tmp_path / HISTORY_DIR / ".part-x.parquet.123.tmp").write_bytes(b"garbage")
    assert len(load_history(tmp_path)) == len(frame) == len(pd.read_parquet(tmp_path / HISTORY_DIR))


def _config(algorithm, **kw):
    base = dict(runs=3, seed=10, executor="inline", store=None)
    if algorithm in ("rea", "area", "random"):
        base["budget_s"] = 4000
    base.update(kw)
    return ExperimentConfig(algorithm=algorithm, **base)


@pytest.mark.parametrize("algorithm", ["rea", "area", "naswot", "random"])
def test_interrupted_run_resumes_to_the_same_answers(algorithm, tmp_path):
    config = _config(algorithm, n=15, m=12)
    full = run_experiment(config, tmp_path / "full", pool=FormulaPool(), progress=False)

    told = {"n": 0}

    # stop the driver mid-run: interrupt after the first run of the experiment and in the middle of the second
    import orchestrator.driver as driver_module

    original = driver_module.SimulatedDriver.run

    def run_with_interrupt(self):
        if self.seed == config.seed + 1:

            def on_told(trial, result, now):
                told["n"] += 1
                if told["n"] == 6:
                    raise KeyboardInterrupt

            self.on_told = on_told
        return original(self)

    driver_module.SimulatedDriver.run = run_with_interrupt
    try:
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "cut", pool=FormulaPool(), progress=False)
    finally:
        driver_module.SimulatedDriver.run = original
    partial = load_history(tmp_path / "cut")
    assert set(partial["seed"]) == {10, 11} and (partial["seed"] == 11).sum() == 6  # flushed on the way out

    # cells already in the history must be replayed, not recomputed: the pool would fail them now
    resumed = run_experiment(
        config, tmp_path / "cut", resume=True, pool=FormulaPool(fail=set(partial["arch"])), progress=False
    )
    assert [o.best[0].arch for o in resumed] == [o.best[0].arch for o in full]
    assert resumed[0].replayed > 0
    a, b = load_history(tmp_path / "full"), load_history(tmp_path / "cut")
    cols = ["seed", "trial_id", "arch", "status", "score", "fitness", "sim_end_s"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert len(pd.read_parquet(tmp_path / "cut" / HISTORY_DIR)) == len(a)  # nothing written twice
    ca, cb = final_choices(a), final_choices(b)
    assert list(ca["arch"]) == list(cb["arch"]) == [o.best[0].arch for o in full]


def test_resume_with_another_config_is_refused(nb201, oracle, tmp_path):
    with HistoryWriter(tmp_path, metric_names=oracle.metric_names) as writer:
        make_driver(
            nb201, oracle, RegularizedEvolution(nb201, np.random.default_rng(0)), budget=2000, writer=writer
        ).run()
    rows = {int(r["trial_id"]): r for r in load_history(tmp_path).to_dict("records")}
    with pytest.raises(ResumeMismatchError, match="configuration"):
        make_driver(
            nb201, oracle, RegularizedEvolution(nb201, np.random.default_rng(1)), budget=2000, replay=rows
        ).run()


def test_config_validation():
    with pytest.raises(UnknownNameError, match="naswot"):
        ExperimentConfig(algorithm="bohb")
    with pytest.raises(ValueError, match="budget"):
        ExperimentConfig(algorithm="rea")
    with pytest.raises(ValueError):
        ExperimentConfig(algorithm="naswot", workers=0)


@pytest.mark.parametrize("algorithm", ["naswot", "area"])
def test_ensemble_search_ranks_by_the_rank_ensemble_and_resumes(algorithm, tmp_path, nb201):

    from .fakes import MultiProxyPool

    config = _config(algorithm, n=12, m=12, runs=2, ensemble=("naswot", "params"))
    outcomes = run_experiment(config, tmp_path / "e", pool=MultiProxyPool(), progress=False)
    frame = load_history(tmp_path / "e")
    scores = frame[frame["kind"] == "score"]
    assert all(sorted(dict(p)) == ["naswot", "params"] for p in scores["proxy_scores"])
    if algorithm == "naswot":
        for outcome in outcomes:
            rows = scores[scores["seed"] == outcome.seed]
            # by hand: sum of ranks of both proxies among the 12 cells
            a = rows["proxy_scores"].map(lambda p: dict(p)["naswot"]).rank().to_numpy()
            b = rows["proxy_scores"].map(lambda p: dict(p)["params"]).rank().to_numpy()
            assert outcome.best[0].arch == rows["arch"].to_numpy()[np.argmax(a + b)]
        assert list(final_choices(frame)["arch"]) == [o.best[0].arch for o in outcomes]
    else:
        seeds = frame[(frame["phase"] == "population") & (frame["seed"] == config.seed)]["arch"].tolist()
        rows = scores[scores["seed"] == config.seed]
        a = rows["proxy_scores"].map(lambda p: dict(p)["naswot"]).rank().to_numpy()
        b = rows["proxy_scores"].map(lambda p: dict(p)["params"]).rank().to_numpy()
        top = rows["arch"].to_numpy()[np.argsort(-(a + b), kind="stable")][:10]
        assert sorted(seeds) == sorted(top)
    resumed = run_experiment(
        config, tmp_path / "e", resume=True, pool=MultiProxyPool(fail=set(frame["arch"])), progress=False
    )
    assert [o.best[0].arch for o in resumed] == [o.best[0].arch for o in outcomes]
