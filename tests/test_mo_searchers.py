"""Multi-objective REA: its tournament on hand-made sets, its searcher contract, its configuration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.config import ExperimentConfig
from orchestrator.constraints import Constraints
from orchestrator.mo_searchers import (
    CROWDING,
    HV_CONTRIBUTION,
    MORegularizedEvolution,
    ObjectiveMissingError,
    crowding_distances,
    hv_contributions,
    selection_keys,
    tournament_winner,
)
from orchestrator.pareto import MAX, MIN, pareto_front
from search_spaces.core.errors import UnknownNameError
from search_spaces.core.records import Kind, Phase, Result, Status

COST = "cell_latency_ms"


def test_crowding_distance_of_a_front():
    front = np.array([[1.0, 1.0], [2.0, 2.0], [4.0, 3.0]])
    d = crowding_distances(front)
    assert np.isinf(d[0]) and np.isinf(d[2])
    assert d[1] == pytest.approx((4 - 1) / 3 + (3 - 1) / 2)
    assert np.isinf(crowding_distances(front[:2])).all()


def test_hypervolume_contribution_of_a_front():
    front = np.array([[90.0, 1.0], [92.0, 2.0], [95.0, 4.0], [93.0, 3.0]])  # accuracy up, cost down
    c = hv_contributions(front, (MAX, MIN))
    assert np.isinf(c[0]) and np.isinf(c[2])  # the cheapest and the most accurate ends
    assert c[1] == pytest.approx((92 - 90) * (3 - 2))  # boxed by its neighbours (90, 1) and (93, 3)
    assert c[3] == pytest.approx((93 - 92) * (4 - 3))


# fitness (max), cost (min): 0, 1, 2 are the front (1 in its middle), 3 and 4 are dominated
POPULATION = np.array([[90.0, 1.0], [92.0, 2.0], [95.0, 5.0], [91.0, 3.0], [80.0, 6.0]])


@pytest.mark.parametrize("selection", [CROWDING, HV_CONTRIBUTION])
def test_selection_ranks_then_spread(selection):
    ranks, spread = selection_keys(POPULATION, selection)
    assert ranks.tolist() == [0, 0, 0, 1, 2]
    assert np.isinf(spread[[0, 2]]).all() and np.isfinite(spread[1])
    # a non-dominated member beats dominated ones whatever the order of the picks
    assert tournament_winner(POPULATION, [4, 3, 1], selection) == 1
    assert tournament_winner(POPULATION, [3, 4], selection) == 3
    # equal rank: the front's end (infinite spread) beats its middle
    assert tournament_winner(POPULATION, [1, 2], selection) == 2
    # equal rank and spread: the earlier pick
    assert tournament_winner(POPULATION, [2, 0], selection) == 2
    assert tournament_winner(POPULATION, [0, 2], selection) == 0


def test_tournament_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        tournament_winner(POPULATION, [])
    with pytest.raises(UnknownNameError, match="selection"):
        selection_keys(POPULATION, "roulette")


def _objectives(arch: str) -> tuple[float, float]:
    """A synthetic trade-off: convolutions raise the fitness and the cost."""
    convs = arch.count("nor_conv_3x3") + 0.5 * arch.count("nor_conv_1x1")
    return 80 + 2 * convs + (sum(map(ord, arch)) % 7) / 7, 1 + convs + (sum(map(ord, arch)) % 5) / 10


def _result(arch: str) -> Result:
    fitness, cost = _objectives(arch)
    return Result(Status.OK, value=fitness, fitness=fitness, metrics={COST: cost})


def _drive(searcher, steps: int):
    told = []
    for _ in range(steps):
        trial = searcher.ask()
        assert trial is not None
        result = _result(trial.arch)
        searcher.tell(trial, result)
        told.append((trial, result))
    return told


@pytest.mark.parametrize("selection", [CROWDING, HV_CONTRIBUTION])
def test_searcher_contract(nb201, selection):
    """Valid cells, parents that were told, the same trials from the same seed, other trials from
    another; best() is the front's fittest cell and front() is non-dominated."""

    def run(seed):
        searcher = MORegularizedEvolution(nb201, np.random.default_rng(seed), 8, 3, selection=selection)
        return searcher, _drive(searcher, 40)

    searcher, told = run(7)
    seen = set()
    for trial, _ in told:
        assert nb201.format(nb201.parse(trial.arch)) == trial.arch
        if trial.phase is Phase.CHILD:
            assert trial.parent in seen and trial.arch != told[trial.parent][0].arch
        seen.add(trial.trial_id)
    assert sum(t.phase is Phase.CHILD for t, _ in told) == 32
    assert [t.arch for t, _ in run(7)[1]] == [t.arch for t, _ in told]
    assert [t.arch for t, _ in run(8)[1]] != [t.arch for t, _ in told]

    points = np.array([_objectives(t.arch) for t, _ in told])
    expected = {told[i][0].trial_id for i in pareto_front(points, (MAX, MIN))}
    assert {m.trial.trial_id for m in searcher.front()} == expected
    best_trial, best_result = searcher.best()
    assert best_trial.trial_id in expected and best_result.value == points[:, 0].max()
    assert len(searcher.population) == 8 and len(searcher.archive) == 40


def test_a_dominating_member_is_every_parent(nb201):
    """With the tournament as large as the population, the one non-dominated member wins each time."""
    searcher = MORegularizedEvolution(nb201, np.random.default_rng(0), population_size=5, sample_size=5)
    initial = [searcher.ask() for _ in range(5)]
    assert searcher.ask() is None  # evolution waits for the whole initial population
    for i, trial in enumerate(initial):
        dominating = i == 4  # told last, so it ages out last
        metrics = {COST: 1.0 if dominating else 2.0 + i}
        fitness = 95.0 if dominating else 90.0 - i
        searcher.tell(trial, Result(Status.OK, value=fitness, fitness=fitness, metrics=metrics))
    for _ in range(4):  # it stays in the population for four more tells
        child = searcher.ask()
        assert child.phase is Phase.CHILD and child.parent == initial[4].trial_id
        searcher.tell(child, Result(Status.OK, value=50.0, fitness=50.0, metrics={COST: 9.0}))
    assert searcher.best()[0].trial_id == initial[4].trial_id


def test_failures_uncosted_cells_and_missing_costs(nb201):
    searcher = MORegularizedEvolution(nb201, np.random.default_rng(0), population_size=2, sample_size=1)
    first, second = searcher.ask(), searcher.ask()
    searcher.tell(first, Result(Status.FAILED, error="boom"))
    searcher.tell(second, Result(Status.OK, value=90.0, fitness=90.0, metrics={COST: math.nan}))
    assert not searcher.population and searcher.best() is None  # neither enters the population
    third = searcher.ask()
    assert third.phase is Phase.POPULATION and third.kind is Kind.EVALUATE  # a random member instead
    with pytest.raises(ObjectiveMissingError, match="--latency-device"):
        searcher.tell(third, Result(Status.OK, value=90.0, fitness=90.0, metrics={}))


def test_bad_parameters(nb201):
    rng = np.random.default_rng(0)
    with pytest.raises(UnknownNameError, match="objective cost"):
        MORegularizedEvolution(nb201, rng, objective_cost="cell_energy_mj")
    with pytest.raises(UnknownNameError, match="selection"):
        MORegularizedEvolution(nb201, rng, selection="roulette")
    with pytest.raises(ValueError, match="sample_size"):
        MORegularizedEvolution(nb201, rng, population_size=2, sample_size=3)


def test_config_needs_recorded_costs():
    with pytest.raises(ValueError, match="--latency-device"):
        ExperimentConfig(algorithm="mo_rea", budget_s=100.0)
    with pytest.raises(ValueError, match="--latency-device"):  # a params limit records no latency
        ExperimentConfig(algorithm="mo_rea", budget_s=100.0, constraints=Constraints(max_params_m=1.0))
    ok = ExperimentConfig(
        algorithm="mo_rea",
        budget_s=100.0,
        constraints=Constraints(max_params_m=1.0),
        objective_cost="cell_params_m",
        selection=HV_CONTRIBUTION,
    )
    params = ok.search_params()
    assert (params.objective_cost, params.selection) == ("cell_params_m", HV_CONTRIBUTION)
    with pytest.raises(UnknownNameError, match="objective cost"):
        ExperimentConfig(
            algorithm="mo_rea", budget_s=1.0, constraints=Constraints(latency_device="hwnb_pixel3"), objective_cost="x"
        )


def test_the_run_directory_marks_the_front_each_seed_ended_with(tmp_path):
    """``RUN_DIR/front.parquet`` holds exactly the non-dominated evaluated cells of each seed (fitness
    up, recorded latency down), and a resume does not duplicate them."""
    import numpy as np
    import pandas as pd

    from orchestrator import mo_rea as mo_rea_cli
    from orchestrator.history import load_front
    from orchestrator.pareto import pareto_front

    args = [
        "--latency-device",
        "hwnb_pixel3",
        "--runs",
        "2",
        "--budget",
        "3000",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    assert mo_rea_cli.main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    front = load_front(run_dir)
    h = pd.read_parquet(run_dir / "history.parquet")
    for seed in (0, 1):
        told = h[(h.seed == seed) & (h.kind == "evaluate") & (h.status == "ok")].reset_index(drop=True)
        points = np.column_stack([told["fitness"], told["cell_latency_ms"]])
        expected = set(told.loc[list(pareto_front(points, ("max", "min"))), "trial_id"])
        assert set(front[front.seed == seed]["trial_id"]) == expected
    assert (front["cost_name"] == "cell_latency_ms").all()
    assert mo_rea_cli.main(["--resume", str(run_dir), "--no-progress"]) == 0
    assert len(load_front(run_dir)) == len(front)
