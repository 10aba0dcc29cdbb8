"""Contract tests run against every searcher, plus each algorithm's own rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.searchers import AREA, NASWOTSearch, RandomSearch, RegularizedEvolution
from search_spaces.core.records import Kind, Phase, Result, Status

FACTORIES = {
    "random": lambda s, r: RandomSearch(s, r),
    "naswot": lambda s, r: NASWOTSearch(s, r, n=30),
    "rea": lambda s, r: RegularizedEvolution(s, r, population_size=10, sample_size=3),
    "area": lambda s, r: AREA(s, r, population_size=10, sample_size=3, m=20),
}


def fitness_of(arch: str) -> float:
    return 70 + 5 * arch.count("nor_conv_3x3") - 3 * arch.count("none") + (sum(map(ord, arch)) % 89) / 89


def drive(searcher, steps: int, fail_every: int = 0):
    """Sequential ask/tell; returns the told (trial, result) pairs."""
    told = []
    for step in range(steps):
        trial = searcher.ask()
        if trial is None:
            break
        if fail_every and step % fail_every == fail_every - 1:
            result = Result(Status.FAILED, error="boom")
        else:
            value = fitness_of(trial.arch)
            result = Result(
                Status.OK,
                value=value,
                fitness=value if trial.kind is Kind.EVALUATE else math.nan,
                score=value if trial.kind is Kind.SCORE else math.nan,
            )
        searcher.tell(trial, result)
        told.append((trial, result))
    return told


@pytest.mark.parametrize("name", FACTORIES)
def test_contract_valid_unique_ids_and_reproducible(name, nb201):
    runs = []
    for _ in range(2):
        searcher = FACTORIES[name](nb201, np.random.default_rng(42))
        told = drive(searcher, 80)
        assert told, "a searcher must ask something"
        ids = [t.trial_id for t, _ in told]
        assert ids == sorted(set(ids))
        for trial, _ in told:
            nb201.parse(trial.arch)
        runs.append([(t.arch, t.kind, t.phase, t.parent) for t, _ in told])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", FACTORIES)
def test_contract_best_is_the_max_ok_value_and_never_a_failure(name, nb201):
    searcher = FACTORIES[name](nb201, np.random.default_rng(1))
    told = drive(searcher, 80, fail_every=4)
    trial, result = searcher.best()
    assert result.ok
    relevant = [(t, r) for t, r in told if r.ok and (name == "naswot" or t.kind is Kind.EVALUATE)]
    assert result.value == max(r.value for _, r in relevant)


@pytest.mark.parametrize("name", FACTORIES)
def test_contract_different_seeds_differ(name, nb201):
    a = [t.arch for t, _ in drive(FACTORIES[name](nb201, np.random.default_rng(1)), 30)]
    b = [t.arch for t, _ in drive(FACTORIES[name](nb201, np.random.default_rng(2)), 30)]
    assert a != b


def test_naswot_asks_exactly_n_scores(nb201):
    searcher = NASWOTSearch(nb201, np.random.default_rng(0), n=7)
    trials = [searcher.ask() for _ in range(7)]
    assert searcher.ask() is None
    assert all(t.kind is Kind.SCORE and t.prefetchable for t in trials)
    assert not searcher.finished
    for t in trials:
        searcher.tell(t, Result(Status.OK, value=float(t.trial_id)))
    assert searcher.finished and searcher.best()[0].trial_id == 6
    with pytest.raises(ValueError):
        NASWOTSearch(nb201, np.random.default_rng(0), n=0)


def test_rea_population_ages_and_children_are_mutations_of_tournament_winners(nb201):
    searcher = RegularizedEvolution(nb201, np.random.default_rng(5), population_size=5, sample_size=2)
    by_id = {}
    initial = [searcher.ask() for _ in range(5)]
    assert all(t.phase is Phase.POPULATION for t in initial)
    assert searcher.ask() is None  # waits for the initial population
    for trial, _ in [(t, None) for t in initial]:
        by_id[trial.trial_id] = trial
        searcher.tell(trial, Result(Status.OK, value=fitness_of(trial.arch)))
    for _ in range(50):
        members = {m.trial.trial_id for m in searcher.population}
        child = searcher.ask()
        assert child.phase is Phase.CHILD and child.parent in members
        parent = by_id[child.parent]
        diff = sum(a != b for a, b in zip(nb201.parse(parent.arch).ops, nb201.parse(child.arch).ops))
        assert diff == 1
        by_id[child.trial_id] = child
        searcher.tell(child, Result(Status.OK, value=fitness_of(child.arch)))
        assert len(searcher.population) == 5
        assert searcher.population[-1].trial is child  # the newest is in, the oldest out
    with pytest.raises(ValueError):
        RegularizedEvolution(nb201, np.random.default_rng(0), population_size=3, sample_size=4)


def test_rea_recovers_when_the_whole_initial_population_fails(nb201):
    searcher = RegularizedEvolution(nb201, np.random.default_rng(0), population_size=2, sample_size=2)
    for _ in range(2):
        t = searcher.ask()
        searcher.tell(t, Result(Status.FAILED, error="x"))
    t = searcher.ask()
    assert t.phase is Phase.POPULATION and not searcher.population


def test_area_seeds_population_with_top_scores(nb201):
    searcher = AREA(nb201, np.random.default_rng(3), population_size=4, sample_size=2, m=12)
    scores = [searcher.ask() for _ in range(12)]
    assert all(t.kind is Kind.SCORE and t.phase is Phase.SAMPLE for t in scores)
    assert searcher.ask() is None  # needs every score first
    values = {t.arch: fitness_of(t.arch) for t in scores}
    for t in scores[:-1]:
        searcher.tell(t, Result(Status.OK, value=values[t.arch], score=values[t.arch]))
    assert searcher.ask() is None
    searcher.tell(scores[-1], Result(Status.NONFINITE, value=-math.inf, score=-math.inf))
    top = sorted((values[t.arch], t.arch) for t in scores[:-1])[::-1][:4]
    seeds = [searcher.ask() for _ in range(4)]
    assert [t.arch for t in seeds] == [a for _, a in top]
    assert all(t.kind is Kind.EVALUATE and t.phase is Phase.POPULATION for t in seeds)
    assert searcher.ask() is None
    for t in seeds:
        searcher.tell(t, Result(Status.OK, value=fitness_of(t.arch), fitness=fitness_of(t.arch)))
    child = searcher.ask()
    assert child.phase is Phase.CHILD and child.kind is Kind.EVALUATE
    # best() never returns a score-only trial
    assert searcher.best()[0].kind is Kind.EVALUATE
    with pytest.raises(ValueError):
        AREA(nb201, np.random.default_rng(0), population_size=10, m=5)
