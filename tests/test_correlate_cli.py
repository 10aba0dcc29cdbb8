"""The correlation study command, end to end on a few cells."""

from __future__ import annotations

import pandas as pd

from orchestrator import correlate as cli
from scoring.store import ScoreStore


def test_correlate_writes_scores_figures_and_reuses_the_store(tmp_path, capsys):
    args = [
        "--n",
        "8",
        "--proxies",
        "naswot,params",
        "--ensemble",
        "naswot,params",
        "--batch-size",
        "16",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "ensemble(naswot+params)" in out and "tau" in out
    first = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert set(first["proxy"]) == {"naswot", "params"} and len(first) == 16
    assert (tmp_path / "out" / "tau.png").stat().st_size > 1000
    assert (tmp_path / "out" / "scatter_cifar10.png").stat().st_size > 1000
    corr = pd.read_csv(tmp_path / "out" / "correlations.csv")
    assert {"kendall_tau", "spearman_rho", "nonfinite", "failed"} <= set(corr.columns)
    stored = len(ScoreStore(tmp_path / "store"))
    parts = len(list((tmp_path / "store").glob("part-*")))
    assert cli.main(args) == 0  # a second run recomputes nothing
    assert len(ScoreStore(tmp_path / "store")) == stored and len(list((tmp_path / "store").glob("part-*"))) == parts
    second = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    pd.testing.assert_series_equal(first["score"], second["score"])


def test_ablation_options_are_separate_cache_entries(tmp_path, capsys):
    base = [
        "--n",
        "4",
        "--proxies",
        "naswot",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
        "--no-plots",
    ]
    assert cli.main(base + ["--batch-size", "8"]) == 0
    assert cli.main(base + ["--batch-size", "8", "--inputs", "noise", "--inits", "2"]) == 0
    frame = ScoreStore(tmp_path / "store").frame()
    assert set(frame["proxy"]) == {"naswot", "naswot+noise"}
    assert set(frame[frame["proxy"] == "naswot+noise"]["init_seed"]) == {0, 1}
    assert cli.main(base + ["--proxies", "nope"]) == 2
    assert "unknown proxy" in capsys.readouterr().err


def test_correlation_table_columns_stay_aligned_with_long_proxy_names():
    corr = pd.DataFrame(
        [
            {
                "dataset": "cifar100",
                "proxy": "naswot",
                "accuracy": "test",
                "kendall_tau": 0.5,
                "spearman_rho": 0.6,
                "cells": 10,
                "nonfinite": 1,
                "failed": 0,
            },
            {
                "dataset": "cifar100",
                "proxy": "ensemble(naswot+synflow+params+jacob_cov)",
                "accuracy": "test",
                "kendall_tau": 0.7,
                "spearman_rho": 0.8,
                "cells": 10,
                "nonfinite": 0,
                "failed": 0,
            },
            {
                "dataset": "cifar100",
                "proxy": "naswot",
                "accuracy": "valid",
                "kendall_tau": float("nan"),
                "spearman_rho": float("nan"),
                "cells": 0,
                "nonfinite": 0,
                "failed": 0,
            },
        ]
    )
    lines = cli.format_correlations(corr).splitlines()
    assert len(lines) == 4  # header, rule, two rows: the split with no accuracies is left out
    tau_end = lines[0].index("tau") + len("tau")
    assert lines[2][tau_end - 5 : tau_end] == "0.500"
    assert lines[3][tau_end - 5 : tau_end] == "0.700"
    assert len({len(line) for line in lines}) == 1


def test_correlate_nb101_draws_from_the_whole_table_with_a_build_option(tmp_path, capsys):
    """NB101: cells come from the embedded full table (an indexed space: uniform rows), keyed by the
    benchmark's hash; the stem width is a build option of the score's key."""
    from search_spaces import get_space, open_benchmark

    args = ["--space", "nb101", "--stem-channels", "8", "--n", "3", "--proxies", "naswot,params", "--batch-size", "8"]
    args += ["--store", str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--no-progress", "--no-plots"]
    assert cli.main(args) == 0
    assert "3 cells of nb101" in capsys.readouterr().out
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    space = get_space("nb101")
    benchmark = open_benchmark(space)
    assert len(set(scores["arch_key"])) == 3 and (scores["status"] == "ok").all()
    for text in set(scores["arch"]):  # every cell is one of the table's, with its test accuracy
        assert 0 < benchmark.lookup(space.parse(text))["cifar10_test"] <= 100
    stored = ScoreStore(tmp_path / "store").frame()
    assert set(stored["build"]) == {"stem_channels=8"}
    corr = pd.read_csv(tmp_path / "out" / "correlations.csv")
    test = corr[(corr["proxy"] == "params") & (corr["accuracy"] == "test")].iloc[0]
    assert test["cells"] == 3 and -1 <= test["kendall_tau"] <= 1


def test_correlate_refuses_a_space_without_benchmark(tmp_path, capsys):
    args = ["--space", "nats_sss", "--n", "2", "--out", str(tmp_path / "o"), "--no-store", "--no-progress"]
    assert cli.main(args) == 2
    assert "no benchmark to correlate with" in capsys.readouterr().err


def test_a_study_whose_scores_are_all_stored_starts_no_actor(tmp_path, capsys):
    import ray

    base = ["--n", "3", "--proxies", "params", "--batch-size", "8", "--store", str(tmp_path / "store"), "--no-progress"]
    base += ["--no-plots", "--out", str(tmp_path / "out")]
    assert cli.main(base) == 0  # inline: fills the store
    was_running = ray.is_initialized()
    assert cli.main([*base, "--executor", "ray", "--workers", "2", "--startup-timeout", "1"]) == 0
    assert ray.is_initialized() == was_running  # every score came from the store: Ray was never asked for
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert scores["cached"].all()


def test_correlate_on_the_naswot_runs_cells_shares_them_with_the_runs(tmp_path, capsys):
    """--naswot-runs K --n M: the first M distinct cells NASWOT runs 0..K-1 score, and the protocol says so."""
    from orchestrator.experiment import ExperimentConfig, run_experiment
    from orchestrator.history import load_history

    config = ExperimentConfig(
        algorithm="naswot", n=3, runs=2, batch_size=8, store=None, proxy="params", executor="inline"
    )
    run_experiment(config, tmp_path / "run", progress=False)
    history = load_history(tmp_path / "run").sort_values(["seed", "tell_order"])
    run_keys = list(dict.fromkeys(history["arch_key"].astype(str)))
    args = ["--naswot-runs", "2", "--naswot-n", "3", "--n", "4", "--proxies", "params", "--batch-size", "8"]
    args += ["--store", str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--no-progress", "--no-plots"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "protocol" in out and "the first that NASWOT runs 0..1 with N=3 sample" in out
    assert "content hash" in out and "accuracy  cifar10: valid" in out
    studied = pd.read_parquet(tmp_path / "out" / "scores.parquet")["arch_key"].astype(str).tolist()
    assert studied == run_keys[:4]


def test_correlate_refuses_bad_cell_counts_with_one_line(tmp_path, capsys):
    for bad in (["--naswot-runs", "-1"], ["--naswot-runs", "1", "--naswot-n", "0"], ["--n", "0"]):
        assert cli.main([*bad, "--out", str(tmp_path / "out"), "--no-progress"]) == 2
        assert capsys.readouterr().err.startswith("error: ")


def test_fit_fusion_on_a_dataset_without_validation_accuracy_plots_every_row(tmp_path, capsys):
    """CIFAR-100 has test accuracy only: the fusion is fitted against it on one half, reported on
    the other, and the bar figure still draws (a fusion has only @report rows)."""
    args = ["--dataset", "cifar100", "--n", "12", "--proxies", "params,trainable_layers", "--fit-fusion"]
    args += ["--store", str(tmp_path / "store"), "--out", str(tmp_path / "out"), "--no-progress"]
    assert cli.main(args) == 0
    assert "fitted on 6 cells against test accuracy" in capsys.readouterr().err
    corr = pd.read_csv(tmp_path / "out" / "correlations.csv")
    fused = corr[corr["proxy"].str.startswith("fitted(")]
    assert set(fused["accuracy"]) == {"valid@report", "test@report"} and (fused["cells"] <= 6).all()
    assert (tmp_path / "out" / "tau.png").stat().st_size > 1000


def test_tau_bars_of_a_fitted_study_are_all_on_the_report_half_and_fusions_group_by_kind():
    from orchestrator.correlate import RANK_REGRESSION, tau_bar_rows

    def row(dataset, proxy, accuracy, tau):
        return {"dataset": dataset, "proxy": proxy, "accuracy": accuracy, "kendall_tau": tau}

    corr = pd.DataFrame(
        [
            row("cifar10", "meco", "valid", 0.71),
            row("cifar10", "meco", "valid@report", 0.70),
            row("cifar10", "fitted(0.5*meco+0.5*swap)", "valid@report", 0.72),
            row("cifar10", RANK_REGRESSION, "valid@report", 0.74),
            row("cifar100", "meco", "valid", float("nan")),
            row("cifar100", "meco", "test", 0.69),
            row("cifar100", "fitted(0.5*meco_opt)", "test@report", 0.75),
            row("imagenet16", "naswot", "test", 0.60),  # no fit: all cells
        ]
    )
    rows = tau_bar_rows(corr)
    assert ("cifar10", "meco", 0.70, "valid@report") in rows
    assert ("cifar10", "greedy\nlog-rank\n(fitted)", 0.72, "valid@report") in rows
    assert ("cifar100", "greedy\nlog-rank\n(fitted)", 0.75, "test@report") in rows  # one group, two fits
    assert ("cifar10", "rank\nregression\n(fitted)", 0.74, "valid@report") in rows
    assert ("imagenet16", "naswot", 0.60, "test") in rows
    assert not any(r[0] == "cifar100" and r[1] == "meco" for r in rows)  # no report-half row of it
