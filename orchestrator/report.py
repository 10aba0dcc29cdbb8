"""Tables and plots from one or more run histories.

    python -m orchestrator.report runs/naswot-... runs/rea-... [--plot fig.png]

For every run (seed) the final choice is what its searcher returned, as recorded in the history's
``incumbent`` column: NASWOT the cell with the best finite score (or rank ensemble), the others the
evaluated cell with the best fitness. The
table follows the layout of the NASWOT paper's NAS-Bench-201 table: mean +- std over runs of the
chosen cells' accuracies per dataset and split, and the simulated search time.

The accuracy columns are whatever the histories hold (:func:`report_metrics`): NAS-Bench-201's six
in the paper's order, NB101's CIFAR-10 validation and test, none for a score-only space.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.history import load_history, metric_columns
from search_spaces.core.records import METRIC_NAMES

COLUMN_TITLES = {
    "cifar10_valid": "C10 valid",
    "cifar10_test": "C10 test",
    "cifar100_valid": "C100 valid",
    "cifar100_test": "C100 test",
    "imagenet16_valid": "IN16 valid",
    "imagenet16_test": "IN16 test",
}
_SUMMARY_COLUMNS = ("run_id", "algorithm", "runs", "search_s")


def report_metrics(frame: pd.DataFrame) -> list[str]:
    """The accuracy columns a report shows for ``frame``: NB201's six (:data:`METRIC_NAMES`) that the
    history holds, in the paper's order, then any other ``*_valid`` / ``*_test`` metric column."""
    present = metric_columns(frame.columns)
    shown = [m for m in METRIC_NAMES if m in present]
    shown += [m for m in present if m not in shown and m.endswith(("_valid", "_test"))]
    return shown


def _title(metric: str) -> str:
    return COLUMN_TITLES.get(metric, metric)


def final_choices(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (run_id, seed): the chosen cell, its accuracies and the search time.

    The chosen cell is the one the searcher itself named: the ``incumbent`` of the run's last told
    row (recorded by the driver after every tell), so the report never re-derives a search's answer.
    """
    rows = []
    for (run_id, seed), group in frame.groupby(["run_id", "seed"], sort=True):
        group = group.sort_values("tell_order", kind="stable")
        algorithm = group["algorithm"].iloc[0]
        incumbent = int(group["incumbent"].iloc[-1])
        chosen = group[group["trial_id"] == incumbent]
        row = {
            "run_id": run_id,
            "algorithm": algorithm,
            "seed": seed,
            "arch": None,
            "search_time_s": float(group["sim_end_s"].max()),
            "trials": len(group),
            "failed": int((group["status"] == "failed").sum()),
        }
        if incumbent >= 0 and not chosen.empty:
            best = chosen.iloc[0]
            row.update(arch=best["arch"], arch_key=best["arch_key"])
            row.update({m: best[m] for m in metric_columns(best.index)})
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame, budget_s: float | None = None) -> pd.DataFrame:
    """Mean and std per (run_id, algorithm) of the final choices, one ``(mean, std)`` column per
    metric of :func:`report_metrics`."""
    choices = final_choices(frame)
    metrics = report_metrics(frame)
    out = []
    for (run_id, algorithm), group in choices.groupby(["run_id", "algorithm"], sort=False):
        row = {"run_id": run_id, "algorithm": algorithm, "runs": len(group), "search_s": group["search_time_s"].mean()}
        for m in metrics:
            values = group[m].dropna() if m in group else pd.Series(dtype=float)
            row[m] = (values.mean(), values.std(ddof=0)) if len(values) else (np.nan, np.nan)
        out.append(row)
    return pd.DataFrame(out)


def format_table(summary: pd.DataFrame) -> str:
    """The summary in the paper's layout, as plain text (the metric columns of ``summary``)."""
    metrics = [c for c in summary.columns if c not in _SUMMARY_COLUMNS]
    head = f"{'method':<22}{'runs':>5}{'search (s)':>12}" + "".join(f"{_title(m):>17}" for m in metrics)
    lines = [head, "-" * len(head)]
    for _, row in summary.iterrows():
        name = f"{row['algorithm']} ({str(row['run_id'])[-6:]})"
        cells = []
        for m in metrics:
            mean, std = row[m]
            cells.append(f"{'n/a':>17}" if np.isnan(mean) else f"{mean:>9.2f} +- {std:<4.2f}")
        lines.append(f"{name:<22}{row['runs']:>5}{row['search_s']:>12.1f}" + "".join(cells))
    return "\n".join(lines)


def plot_time_vs_accuracy(choices: pd.DataFrame, path: str | Path, metric: str = "cifar10_test") -> Path:
    """Search time (log) against the chosen cells' accuracy, mean +- std per run directory (paper's fig. 7)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for (_run_id, algorithm), group in choices.groupby(["run_id", "algorithm"], sort=False):
        t, acc = group["search_time_s"], group[metric]
        ax.scatter(t, acc, s=6, alpha=0.25)
        ax.errorbar(
            t.mean(),
            acc.mean(),
            xerr=t.std(ddof=0),
            yerr=acc.std(ddof=0),
            fmt="o",
            capsize=3,
            label=f"{algorithm} (n={len(group)})",
        )
    ax.set_xscale("log")
    ax.set_xlabel("search time (s, simulated)")
    ax.set_ylabel(f"{_title(metric)} accuracy of the chosen cell (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run directories (each with history.parquet)")
    parser.add_argument("--plot", default=None, help="write the search-time vs accuracy figure here (PNG)")
    parser.add_argument("--metric", default="cifar10_test", help="the accuracy column of the figure")
    args = parser.parse_args(argv)
    try:
        frame = pd.concat([load_history(d) for d in args.run_dirs], ignore_index=True)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(summarise(frame)))
    if args.plot and args.metric not in frame.columns:
        print(
            f"error: --metric {args.metric!r} is not a column of these histories: {report_metrics(frame)}",
            file=sys.stderr,
        )
        return 2
    if args.plot:
        print(f"figure: {plot_time_vs_accuracy(final_choices(frame), args.plot, args.metric)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
