"""The few-query searcher (guided_ls) and the fusions searchers rank by."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.guided_search import GuidedLocalSearch
from orchestrator.searchers import fused_order
from search_spaces.core.errors import UnknownNameError
from search_spaces.core.records import Kind, Phase, Result, Status, Trial

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_3X3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def score_of(arch: str) -> float:
    """A training-free score that likes 3x3 convolutions (so its best cell is ALL_3X3)."""
    return arch.count("nor_conv_3x3") + (sum(map(ord, arch)) % 89) / 1000


def accuracy_of(arch: str) -> float:
    """An accuracy whose optimum (BEST) is one mutation away from the score's optimum."""
    return 100.0 if arch == BEST else 50 + 5 * arch.count("nor_conv_3x3") + (sum(map(ord, arch)) % 83) / 100


def run(searcher, evaluations: int, fail=lambda trial: False):
    """Sequential ask/tell until ``evaluations`` accuracy queries are told; the told pairs."""
    told = []
    while sum(t.kind is Kind.EVALUATE for t, _ in told) < evaluations:
        trial = searcher.ask()
        assert trial is not None, "guided_ls never runs out of questions while cells remain"
        if fail(trial):
            result = Result(Status.FAILED, error="injected")
        elif trial.kind is Kind.SCORE:
            value = score_of(trial.arch)
            result = Result(Status.OK, value=value, score=value, proxy_scores={"a": value, "c": 1.0})
        else:
            value = accuracy_of(trial.arch)
            result = Result(Status.OK, value=value, fitness=value)
        searcher.tell(trial, result)
        told.append((trial, result))
    return told


def test_screens_then_climbs_to_the_optimum_next_to_the_best_score(nb201):
    searcher = GuidedLocalSearch(nb201, np.random.default_rng(0), m=15625 // 10, neighbours=24)
    told = run(searcher, 20)
    kinds = [t.kind for t, _ in told]
    first_evaluation = kinds.index(Kind.EVALUATE)
    assert first_evaluation == 1562 and all(k is Kind.SCORE for k in kinds[:first_evaluation])
    assert all(t.prefetchable for t, _ in told if t.kind is Kind.SCORE)
    evaluated = [t.arch for t, _ in told if t.kind is Kind.EVALUATE]
    assert len(set(nb201.key(nb201.parse(a)) for a in evaluated)) == len(evaluated), "no cell is queried twice"
    best_trial, best_result = searcher.best()
    assert best_trial.kind is Kind.EVALUATE and best_result.value == max(accuracy_of(a) for a in evaluated)
    # the screen's best score is queried first, then the climb goes through scored neighbours
    screened = [(r.value, t.trial_id, t.arch) for t, r in told[:first_evaluation]]
    assert evaluated[0] == max(screened, key=lambda s: (s[0], -s[1]))[2]
    children = [t for t, _ in told if t.kind is Kind.EVALUATE and t.phase is Phase.CHILD]
    assert children and all(c.parent >= 0 for c in children)


def test_finds_the_optimum_from_the_all_3x3_start(nb201):
    """With the whole space screened the first query is ALL_3X3 and BEST is among its neighbours: a
    score that likes 3x3 convolutions ranks BEST (five of them) among the first neighbours."""
    searcher = GuidedLocalSearch(nb201, np.random.default_rng(1), m=3000, neighbours=24)
    told = run(searcher, 20)
    assert searcher.best()[0].arch == BEST
    assert sum(t.kind is Kind.EVALUATE for t, _ in told) == 20


def test_failed_scores_and_evaluations_are_outcomes(nb201):
    searcher = GuidedLocalSearch(nb201, np.random.default_rng(2), m=50, neighbours=8)
    told = run(searcher, 10, fail=lambda t: t.trial_id % 5 == 4)
    failed = [(t, r) for t, r in told if not r.ok]
    assert failed
    best = searcher.best()
    assert best is not None and best[1].ok and best[0].kind is Kind.EVALUATE


def test_feasibility_filter_is_respected(nb201):
    feasible = lambda arch: "none" not in nb201.format(arch)  # noqa: E731
    searcher = GuidedLocalSearch(nb201, np.random.default_rng(3), m=40, neighbours=12, feasible=feasible)
    told = run(searcher, 8)
    assert all("none" not in t.arch for t, _ in told)


def test_ensemble_ranks_by_the_fusion(nb201):
    """Proxy "c" is the same for every cell, so the fusion of "a" and "c" orders cells as "a" does:
    the first query is the screen's best "a"."""
    searcher = GuidedLocalSearch(nb201, np.random.default_rng(4), m=30, ensemble=("a", "c"), fusion="logrank")
    told = run(searcher, 3)
    screened = [(r.proxy_scores["a"], -t.trial_id, t.arch) for t, r in told if t.kind is Kind.SCORE][:30]
    first = next(t for t, _ in told if t.kind is Kind.EVALUATE)
    assert first.arch == max(screened)[2]


def test_bad_arguments(nb201):
    with pytest.raises(ValueError):
        GuidedLocalSearch(nb201, np.random.default_rng(0), m=0)
    with pytest.raises(ValueError):
        GuidedLocalSearch(nb201, np.random.default_rng(0), neighbours=0)
    with pytest.raises(UnknownNameError):
        GuidedLocalSearch(nb201, np.random.default_rng(0), fusion="median")


def _item(i: int, scores: dict[str, float]) -> tuple[Trial, Result]:
    return Trial(i, f"cell{i}", Kind.SCORE, Phase.SAMPLE), Result(Status.OK, value=0.0, proxy_scores=scores)


def test_logrank_and_rank_fusions_differ_as_defined():
    """Cell 0 is first on one proxy and last on the other; cell 1 is second on both. The sum of ranks
    ties them (3 + 1 = 2 + 2, the earlier trial first); the sum of log ranks punishes the last place."""
    items = [_item(0, {"a": 3.0, "b": 1.0}), _item(1, {"a": 2.0, "b": 2.0}), _item(2, {"a": 1.0, "b": 3.0})]
    assert [t.trial_id for t, _ in fused_order(items, ("a", "b"), "rank")] == [0, 1, 2]
    assert [t.trial_id for t, _ in fused_order(items, ("a", "b"), "logrank")] == [1, 0, 2]
    with pytest.raises(UnknownNameError):
        fused_order(items, ("a",), "geometric")


def test_sweep_scores_every_named_proxy_into_the_store(tmp_path, capsys):
    from scoring.store import ScoreStore
    from scoring.sweep import main as sweep

    store = tmp_path / "scores"
    sweep(["--n", "3", "--proxies", "params,trainable_layers", "--store", str(store), "--no-shipped-scores"])
    records = ScoreStore(store, shipped=False).records()
    assert sorted(r.key.proxy for r in records) == ["params"] * 3 + ["trainable_layers"] * 3
    sweep(["--n", "3", "--proxies", "params", "--store", str(store), "--no-shipped-scores"])
    assert "params: 3 of 3 cells already in" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        sweep(["--n", "3", "--proxies", "params,bogus", "--store", str(store)])


def test_guided_ls_command_end_to_end(tmp_path, capsys):
    """The command runs a few-query search on the lookup with an ensemble fused by log rank: the
    history holds the screen, the neighbours' scores and exactly the asked number of queries."""
    import pandas as pd

    from orchestrator import guided_ls
    from orchestrator.history import HISTORY_DIR, read_config

    args = ["--ensemble", "params,trainable_layers", "--m", "12", "--neighbours", "6", "--max-evaluations", "4"]
    args += ["--runs", "2", "--executor", "inline", "--store", str(tmp_path / "store"), "--no-shipped-scores"]
    assert guided_ls.main([*args, "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "guided_ls" in out and "queries" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.name.startswith("guided_ls-")]
    frame = pd.read_parquet(run_dir / HISTORY_DIR)
    for _seed, group in frame.groupby("seed"):
        assert (group["kind"] == "evaluate").sum() == 4
        assert (group["kind"] == "score").sum() >= 12
    config = read_config(run_dir)["config"]
    assert config["fusion"] == "logrank" and config["m"] == 12 and config["neighbours"] == 6
