"""Tables and plots from one or more run histories.

    python -m orchestrator.report runs/naswot-... runs/rea-... [--plot fig.png]

For every run (seed) the final choice is what its searcher returned, as recorded in the history's
``incumbent`` column: NASWOT the cell with the best finite score (or rank ensemble), the others the
evaluated cell with the best fitness. The
table follows the layout of the NASWOT paper's NAS-Bench-201 table: mean +- std over runs of the
chosen cells' accuracies per dataset and split, and the simulated search time.

The accuracy columns and their titles come from the metric specs each run's ``config.json``
records (its benchmark's, or the trained accuracy of a Tune run; :func:`report_metrics`), in the
benchmark's order; a score-only space has none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.history import load_history, metric_columns, read_config
from search_spaces.core.benchmark import MetricSpec

_SUMMARY_COLUMNS = ("run_id", "algorithm", "runs", "search_s")


def metric_specs(config_record: dict) -> tuple[MetricSpec, ...]:
    """The metric specs a run's ``config.json`` records (its oracle's: the history's metric columns)."""
    return tuple(MetricSpec(**m) for m in (config_record.get("benchmark") or {}).get("metrics", []))


def metric_titles(config_record: dict) -> dict[str, str]:
    """Short column titles of a run's metrics (each spec's title, else its name)."""
    return {m.name: m.title or m.name for m in metric_specs(config_record)}


def report_metrics(frame: pd.DataFrame, specs: Sequence[MetricSpec] = ()) -> list[str]:
    """The accuracy columns a report shows for ``frame``: the ``reported`` metrics of ``specs`` (the
    runs' oracles declare them, in their order) that the history holds; without specs, every metric
    column named ``*_valid`` / ``*_test``."""
    present = metric_columns(frame.columns)
    if specs:
        shown = []
        for spec in specs:
            if spec.reported and spec.name in present and spec.name not in shown:
                shown.append(spec.name)
        return shown
    return [m for m in present if m.endswith(("_valid", "_test"))]


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


def summarise(frame: pd.DataFrame, budget_s: float | None = None, specs: Sequence[MetricSpec] = ()) -> pd.DataFrame:
    """Mean and std per (run_id, algorithm) of the final choices, one ``(mean, std)`` column per
    metric of :func:`report_metrics` (``specs``: the runs' metric specs)."""
    choices = final_choices(frame)
    metrics = report_metrics(frame, specs)
    out = []
    for (run_id, algorithm), group in choices.groupby(["run_id", "algorithm"], sort=False):
        row = {"run_id": run_id, "algorithm": algorithm, "runs": len(group), "search_s": group["search_time_s"].mean()}
        for m in metrics:
            values = group[m].dropna() if m in group else pd.Series(dtype=float)
            row[m] = (values.mean(), values.std(ddof=0)) if len(values) else (np.nan, np.nan)
        out.append(row)
    return pd.DataFrame(out)


def format_table(summary: pd.DataFrame, titles: dict[str, str] | None = None) -> str:
    """The summary in the paper's layout, as plain text (the metric columns of ``summary``, titled
    by ``titles``, e.g. :func:`metric_titles`)."""
    titles = titles or {}
    metrics = [c for c in summary.columns if c not in _SUMMARY_COLUMNS]
    head = f"{'method':<22}{'runs':>5}{'search (s)':>12}" + "".join(f"{titles.get(m, m):>17}" for m in metrics)
    lines = [head, "-" * len(head)]
    for _, row in summary.iterrows():
        name = f"{row['algorithm']} ({str(row['run_id'])[-6:]})"
        cells = []
        for m in metrics:
            mean, std = row[m]
            cells.append(f"{'n/a':>17}" if np.isnan(mean) else f"{mean:>9.2f} +- {std:<4.2f}")
        lines.append(f"{name:<22}{row['runs']:>5}{row['search_s']:>12.1f}" + "".join(cells))
    return "\n".join(lines)


def plot_time_vs_accuracy(choices: pd.DataFrame, path: str | Path, metric: str, title: str | None = None) -> Path:
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
    ax.set_ylabel(f"{title or metric} accuracy of the chosen cell (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestrator.report RUN_DIR...``; returns the exit code (2: bad input)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run directories (each with history.parquet)")
    parser.add_argument("--plot", default=None, help="write the search-time vs accuracy figure here (PNG)")
    parser.add_argument(
        "--metric", default=None, help="the accuracy column of the figure (default: the first reported)"
    )
    args = parser.parse_args(argv)
    try:
        frame = pd.concat([load_history(d) for d in args.run_dirs], ignore_index=True)
        specs: list[MetricSpec] = []
        for d in args.run_dirs:
            specs += [m for m in metric_specs(read_config(d)) if m not in specs]
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    titles = {m.name: m.title or m.name for m in specs}
    print(format_table(summarise(frame, specs=specs), titles))
    shown = report_metrics(frame, specs)
    metric = args.metric or (shown[0] if shown else None)
    if args.plot and (metric is None or metric not in frame.columns):
        print(f"error: --metric {metric!r} is not a column of these histories: {shown}", file=sys.stderr)
        return 2
    if args.plot and metric is not None:
        print(f"figure: {plot_time_vs_accuracy(final_choices(frame), args.plot, metric, titles.get(metric))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
