"""Real training with Ray Tune at tiny settings: the Searcher adapter, an AREA run, a failing trial,
and the training data. (SIGKILL + resume of the CLI: tests/test_tune_resume.py.)"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cluster.tune_searcher import AskTellAdapter, SearcherStateError
from cluster.tuner import TuneOptions
from orchestrator.experiment import ExperimentConfig, run_experiment
from orchestrator.history import HISTORY_DIR, history_schema, load_curves, load_history
from orchestrator.searchers import AREA, RegularizedEvolution
from scoring.training_data import DataSpec, augment, load_training_data, read_npz_images

TINY = {"epochs": 1, "images": 200, "channels": 4, "cells_per_stage": 1, "batch_size": 64, "score_batch": 16}


def _rea(rng):
    from search_spaces import get_space

    return RegularizedEvolution(get_space("nb201"), rng, population_size=3, sample_size=2)


def _drive(adapter: AskTellAdapter, suggestions: int, complete: int) -> list[str]:
    """Suggest ``suggestions`` trials, complete the first ``complete`` with made-up accuracies."""
    ids = [f"t{i}" for i in range(suggestions)]
    for tid in ids:
        assert isinstance(adapter.suggest(tid), dict)
    for i, tid in enumerate(ids[:complete]):
        adapter.on_trial_complete(tid, {"valid_acc": 50.0 + i, "time_total_s": 1.0}, error=(i == 1))
    return ids


def test_searcher_save_restore_round_trips(tmp_path):
    adapter = AskTellAdapter(_rea, seed=7, base_config={"settings": {"epochs": 1}})
    _drive(adapter, suggestions=3, complete=3)  # the initial population, one of them errored
    for tid in ("t3", "t4"):
        adapter.suggest(tid)  # children asked, still pending
    adapter.on_trial_complete("t3", {"valid_acc": 61.0})
    path = tmp_path / "searcher.json"
    adapter.save(str(path))
    state = json.loads(path.read_text())  # plain JSON
    assert state["pending"] == {"t4": 4} and state["seed"] == 7

    restored = AskTellAdapter(_rea, seed=7, base_config={"settings": {"epochs": 1}})
    restored.restore(str(path))
    assert restored.get_state() == adapter.get_state()
    assert [m.trial.arch for m in restored.inner.population] == [m.trial.arch for m in adapter.inner.population]
    assert restored.inner.rng.bit_generator.state == adapter.inner.rng.bit_generator.state
    # both continue identically: same next suggestion, same tell of the pending trial
    restored.on_trial_complete("t4", {"valid_acc": 40.0})
    adapter.on_trial_complete("t4", {"valid_acc": 40.0})
    assert restored.suggest("t5") == adapter.suggest("t5")
    assert restored.inner.best()[0].trial_id == adapter.inner.best()[0].trial_id

    other_seed = AskTellAdapter(_rea, seed=8)
    with pytest.raises(SearcherStateError):
        other_seed.restore(str(path))
    tampered = json.loads(path.read_text())
    tampered["log"][0][1]["arch"] = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    path.write_text(json.dumps(tampered))
    with pytest.raises(SearcherStateError, match="diverged"):
        AskTellAdapter(_rea, seed=7).restore(str(path))


def test_adapter_scores_area_cells_before_suggesting():
    from search_spaces import get_space
    from search_spaces.core.records import Kind, Result, Status

    scored = []

    def score_fn(trials):
        scored.extend(trials)
        return [Result(Status.OK, value=float(t.trial_id), score=float(t.trial_id)) for t in trials]

    def area(rng):
        return AREA(get_space("nb201"), rng, population_size=2, sample_size=2, m=4)

    adapter = AskTellAdapter(area, seed=0, score_fn=score_fn, max_evaluations=3)
    assert adapter.prepare() == 4
    assert [t.kind for t in scored] == [Kind.SCORE] * 4
    first = adapter.suggest("a")
    # the population is seeded with the best scores: trial ids 3 and 2 scored highest
    assert first["arch"] == scored[3].arch and first["phase"] == "population"
    assert adapter.suggest("b")["arch"] == scored[2].arch
    assert adapter.suggest("c") is None  # evolution waits for the population's results
    adapter.on_trial_complete("a", {"valid_acc": 30.0})
    adapter.on_trial_complete("b", None, error=True)
    assert adapter.suggest("c")["phase"] == "child"
    assert adapter.suggest("d") == AskTellAdapter.FINISHED


def test_training_data_split_and_augment(tmp_path):
    import torch

    data = load_training_data(DataSpec("cifar10", "embedded", None, 200, 0))
    assert len(data.train_images) == 100 and len(data.valid_images) == 100
    both = np.concatenate([data.train_images, data.valid_images]).reshape(200, -1)
    assert len(np.unique(both, axis=0)) == 200  # disjoint halves
    batch = torch.from_numpy(data.train_images[:32])
    a = augment(batch, torch.Generator().manual_seed(1))
    b = augment(batch, torch.Generator().manual_seed(1))
    assert a.shape == batch.shape and a.dtype == torch.uint8 and torch.equal(a, b)
    assert not torch.equal(a, augment(batch, torch.Generator().manual_seed(2)))
    # a crop never invents pixels: each output row is a (possibly flipped, shifted) piece of the padded input
    flipped = augment(batch, torch.Generator().manual_seed(3))
    assert int(flipped.sum()) > 0
    nhwc = np.transpose(data.train_images[:10], (0, 2, 3, 1))
    np.savez(tmp_path / "x.npz", images_uint8_nhwc=nhwc, labels=data.train_labels[:10])
    images, labels = read_npz_images(tmp_path / "x.npz")
    assert np.array_equal(images, data.train_images[:10]) and np.array_equal(labels, data.train_labels[:10])


def _config(algorithm: str = "area", **kw) -> ExperimentConfig:
    base = {
        "budget_s": 600.0,
        "m": 4,
        "population_size": 2,
        "sample_size": 2,
        "executor": "inline",
        "store": None,
        "batch_size": 32,
    }
    return ExperimentConfig(algorithm=algorithm, **{**base, **kw})


@pytest.mark.timeout(120)
def test_area_with_tune_completes_with_history_and_curves(tmp_path, ray_session):
    from orchestrator.report import final_choices

    run = tmp_path / "area-run"
    config = _config(oracle="tune", tune=TuneOptions(trials=3, concurrent=2, **TINY))
    outcomes = run_experiment(config, run, progress=False)
    assert outcomes[0].told == 7 and outcomes[0].failed == 0
    h = load_history(run)
    scores = h[h.kind == "score"]
    evals = h[h.kind == "evaluate"]
    assert len(scores) == 4 and scores.score.notna().all() and (scores.status == "ok").all()
    assert len(evals) == 3 and (evals.status == "ok").all()
    assert evals.fitness.between(0, 100).all() and (evals.fitness == evals.cifar10_valid_1ep).all()
    assert (evals.fitness_name == "cifar10_valid_1ep").all() and (evals.cost_s > 0).all()
    assert sorted(h.tell_order) == list(range(7))
    # the population is the two best-scored cells
    best_two = scores.sort_values("score", ascending=False).arch.head(2)
    assert set(evals[evals.phase == "population"].arch) == set(best_two)
    curves = load_curves(run)
    assert sorted(curves.epoch.unique()) == [0, 1]
    assert len(curves) == 6 and curves[curves.epoch == 1].valid_acc.between(0, 100).all()
    assert curves.score.map(math.isfinite).all()
    assert set(curves.trial_id) == set(evals.trial_id)
    choice = final_choices(h)
    assert choice.arch.iloc[0] == evals.loc[evals.fitness.idxmax(), "arch"]
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["oracle"] == "tune" and record["config"]["tune"]["trials"] == 3
    assert [m["name"] for m in record["benchmark"]["metrics"]] == ["cifar10_valid_1ep"]
    assert outcomes[0].best is not None and outcomes[0].best[0].arch == choice.arch.iloc[0]
    # the Tune driver writes the simulated driver's schema: the same fixed columns, its oracle's metrics
    simulated = tmp_path / "simulated-run"
    run_experiment(_config("rea", max_evaluations=3), simulated, progress=False)
    fixed = {name for name in history_schema().names}

    def schema(run_dir):
        return pa.unify_schemas([pq.read_schema(p) for p in (run_dir / HISTORY_DIR).glob("part-*.parquet")])

    tune_schema, sim_schema = schema(run), schema(simulated)
    assert [(f.name, f.type) for f in tune_schema if f.name in fixed] == [
        (f.name, f.type) for f in sim_schema if f.name in fixed
    ]
    assert tune_schema.equals(history_schema(("cifar10_valid_1ep",)))


def failing_trainable(config):
    """Raises for searcher trial ``fail_trial`` (counting attempts in ``marker_dir``), else trains."""
    from cluster.trainable import train_cell

    if config["naswot_trial"] == config["fail_trial"]:
        marker = Path(config["marker_dir"])
        (marker / f"attempt-{len(list(marker.iterdir()))}").touch()
        raise RuntimeError(f"injected fault in {config['arch']}")
    train_cell(config)


@pytest.mark.timeout(120)
def test_failing_trial_is_retried_then_recorded_failed(tmp_path, ray_session):
    marker = tmp_path / "attempts"
    marker.mkdir()
    run = tmp_path / "rea-run"
    outcomes = run_experiment(
        _config(
            "rea", population_size=2, oracle="tune", tune=TuneOptions(trials=3, concurrent=1, max_failures=1, **TINY)
        ),
        run,
        progress=False,
        trainable=failing_trainable,
        extra_config={"marker_dir": str(marker), "fail_trial": 1},
    )
    assert len(list(marker.iterdir())) == 2  # the first attempt and one retry
    h = load_history(run)
    assert len(h) == 3 and outcomes[0].failed == 1
    failed = h[h.status == "failed"]
    assert list(failed.trial_id) == [1] and "injected fault" in failed.error.iloc[0]
    assert math.isnan(failed.fitness.iloc[0])
    assert (h[h.trial_id != 1].status == "ok").all()  # the search went on: children were trained
    assert (h.phase == "child").sum() == 1


def test_adapter_adds_cell_metrics_to_trained_results_and_pickles_them():
    import pickle

    from orchestrator.constraints import Constraints
    from orchestrator.oracles import CellCostMetrics

    costs = CellCostMetrics("nb201", (), Constraints(max_params_m=1.0, latency_device="hwnb_pixel3"))
    adapter = AskTellAdapter(_rea, seed=3, cell_metrics=costs)
    ids = _drive(adapter, suggestions=2, complete=2)
    (_, ok, _, _), (_, failed, _, _) = adapter.told[ids[0]], adapter.told[ids[1]]
    arch = adapter.trials[0].arch
    assert ok.metrics == costs(arch) and ok.metrics["cell_latency_ms"] > 0
    assert set(failed.metrics) == set(ok.metrics) and not failed.ok
    restored = pickle.loads(pickle.dumps(adapter))
    assert restored.cell_metrics._bound is None and restored.cell_metrics(arch) == costs(arch)


@pytest.mark.timeout(150)
def test_mo_rea_with_tune_minimises_a_recorded_cost(tmp_path, ray_session):
    """mo_rea trains through Tune: each trained cell's result carries its costs, the history records
    them, and the searcher's front is made of trained cells."""
    from orchestrator.constraints import Constraints

    run = tmp_path / "mo-run"
    config = _config(
        "mo_rea",
        population_size=2,
        objective_cost="cell_params_m",
        constraints=Constraints(max_params_m=1.2),
        oracle="tune",
        tune=TuneOptions(trials=3, concurrent=1, **TINY),
    )
    outcomes = run_experiment(config, run, progress=False)
    h = load_history(run)
    assert len(h) == 3 and (h.status == "ok").all() and outcomes[0].failed == 0
    assert h.cell_params_m.between(0, 1.2).all() and (h.cell_feasible == 1).all()
    assert h.cell_flops_m.gt(0).all()
    assert outcomes[0].best is not None and outcomes[0].best[0].arch in set(h.arch)
