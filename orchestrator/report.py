"""Tables and plots from one or more run histories.

    python -m orchestrator.report runs/naswot-... runs/rea-... [--plot anytime.png] [--scatter fig7.png]
    python -m orchestrator.report --pareto runs/mo_rea-... [--plot front.png]

For every run (seed) the final choice is what its searcher returned, as recorded in the history's
``incumbent`` column: NASWOT the cell with the best finite score (or rank ensemble), the others the
evaluated cell with the best fitness. The
table follows the layout of the NASWOT paper's NAS-Bench-201 table: mean +- std over runs of the
chosen cells' accuracies per dataset and split, the simulated search time, and per run the mean
number of accuracy queries (EVALUATE trials) and of cells scored training-free.

The accuracy columns and their titles come from the metric specs each run's ``config.json``
records (its benchmark's, or the trained accuracy of a Tune run; :func:`report_metrics`), in the
benchmark's order; a score-only space has none.

``--plot`` draws the anytime results (:func:`anytime_curves`): the reported accuracy of the cell
the searcher would return after each tell, against simulated time, mean and 25-75 % band over the
seeds of each run directory. ``--scatter`` draws the final choices against search time (the NASWOT
paper's figure 7). ``--pareto`` judges the cells each run evaluated as a front of 200-epoch test
accuracy against the recorded cost (:mod:`orchestrator.pareto_study`): the hypervolume ratio to
NAS-Bench-201's true front per seed and its mean, and a figure of both fronts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.history import load_history, metric_columns, read_config
from orchestrator.pareto import ACCURACY_VS_COST, pareto_front
from orchestrator.pareto_study import (
    DEFAULT_ACCURACY,
    TrueFrontError,
    Truth,
    format_ratios,
    found_points,
    seed_ratios,
    truth_for_run,
    union_ratio,
)
from search_spaces.core.benchmark import MetricSpec
from search_spaces.core.errors import NaswotError

_SUMMARY_COLUMNS = ("run_id", "algorithm", "runs", "search_s", "queries", "scored")
ANYTIME_POINTS = 100  # points of the common log-spaced time grid
PARETO_FIGURE = "pareto_front.png"  # where --pareto draws without --plot (in the first run directory)


class ReportInputError(NaswotError, ValueError):
    """A report asked of histories that cannot give it (a missing column, no told trial)."""


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
            "queries": int((group["kind"] == "evaluate").sum()),
            "scored": int((group["kind"] == "score").sum()),
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
        row = {
            "run_id": run_id,
            "algorithm": algorithm,
            "runs": len(group),
            "search_s": group["search_time_s"].mean(),
            "queries": group["queries"].mean(),
            "scored": group["scored"].mean(),
        }
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
    width = max([22, *(len(f"{a} (123456)") + 2 for a in summary["algorithm"])])
    head = f"{'method':<{width}}{'runs':>5}{'search (s)':>12}{'queries':>9}{'scored':>8}" + "".join(
        f"{titles.get(m, m):>17}" for m in metrics
    )
    lines = [head, "-" * len(head)]
    for _, row in summary.iterrows():
        name = f"{row['algorithm']} ({str(row['run_id'])[-6:]})"
        cells = []
        for m in metrics:
            mean, std = row[m]
            cells.append(f"{'n/a':>17}" if np.isnan(mean) else f"{mean:>9.2f} +- {std:<4.2f}")
        counts = f"{row['queries']:>9.1f}{row['scored']:>8.0f}"
        lines.append(f"{name:<{width}}{row['runs']:>5}{row['search_s']:>12.1f}{counts}" + "".join(cells))
    return "\n".join(lines)


def default_figure_metric(shown: Sequence[str]) -> str | None:
    """The accuracy a figure shows by default: the first reported test accuracy (``*_test``), else
    the first reported metric, else None."""
    tests = [m for m in shown if m.endswith("_test")]
    return tests[0] if tests else (shown[0] if shown else None)


def anytime_curves(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The anytime result of every (run_id, seed) of a history: one row per told trial (by
    ``tell_order``) with ``time_s``, the simulated time of that tell (``sim_end_s``, made
    non-decreasing), and ``value``, the ``metric`` of the trial the searcher would return then (its
    ``incumbent``; NaN while it has none, or when that trial has no ``metric``).

    Returns columns ``run_id, algorithm, seed, tell_order, time_s, value``. Does not mutate ``frame``.

    Raises:
        ReportInputError: ``metric`` is not a column of ``frame``.
    """
    if metric not in frame.columns:
        raise ReportInputError(f"{metric!r} is not a column of these histories: {metric_columns(frame.columns)}")
    parts = []
    for (run_id, seed), group in frame.groupby(["run_id", "seed"], sort=True):
        group = group.sort_values("tell_order", kind="stable")
        value_of = dict(zip(group["trial_id"].astype(int), group[metric].astype(float), strict=True))
        parts.append(
            pd.DataFrame(
                {
                    "run_id": run_id,
                    "algorithm": group["algorithm"].iloc[0],
                    "seed": int(seed),
                    "tell_order": group["tell_order"].to_numpy(),
                    "time_s": np.fmax.accumulate(group["sim_end_s"].to_numpy(float)),
                    "value": [value_of.get(int(i), np.nan) for i in group["incumbent"]],
                }
            )
        )
    columns = ["run_id", "algorithm", "seed", "tell_order", "time_s", "value"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def time_grid(curves: pd.DataFrame, points: int = ANYTIME_POINTS) -> np.ndarray:
    """``points`` log-spaced times from the first positive tell time of ``curves`` to the last.

    Raises:
        ReportInputError: no tell with a positive finite time.
    """
    times = curves["time_s"].to_numpy(float)
    times = times[np.isfinite(times) & (times > 0)]
    if len(times) == 0:
        raise ReportInputError("no told trial with a positive simulated time: nothing to draw")
    return np.geomspace(times.min(), times.max(), points) if times.max() > times.min() else times[:1]


def anytime_summary(curves: pd.DataFrame, grid: np.ndarray | None = None) -> pd.DataFrame:
    """The curves of :func:`anytime_curves` on one common time ``grid`` (default :func:`time_grid`),
    per (run_id, algorithm): ``mean``, ``std``, ``q25`` and ``q75`` over its seeds, from the first
    time at which every seed has a value (NaN before: a mean over the few seeds that already have
    one would mix different sets of runs). A seed's value at time t is its value after its last tell
    at or before t (a seed that ended earlier keeps its final choice). ``runs``: the seeds with a
    value at each time.

    Returns columns ``run_id, algorithm, time_s, mean, std, q25, q75, runs``.
    """
    grid = time_grid(curves) if grid is None else np.asarray(grid, dtype=float)
    out = []
    for (run_id, algorithm), group in curves.groupby(["run_id", "algorithm"], sort=False):
        rows = []
        for _seed, seed_rows in group.groupby("seed", sort=True):
            times, values = seed_rows["time_s"].to_numpy(float), seed_rows["value"].to_numpy(float)
            last = np.searchsorted(times, grid, side="right") - 1
            rows.append(np.where(last >= 0, values[np.clip(last, 0, None)], np.nan))
        values = np.vstack(rows)
        known = np.isfinite(values)
        runs = known.sum(axis=0)
        stats = {name: np.full(len(grid), np.nan) for name in ("mean", "std", "q25", "q75")}
        for j in np.flatnonzero(runs == len(rows)):
            column = values[known[:, j], j]
            stats["mean"][j], stats["std"][j] = column.mean(), column.std()
            stats["q25"][j], stats["q75"][j] = np.percentile(column, [25, 75])
        out.append(pd.DataFrame({"run_id": run_id, "algorithm": algorithm, "time_s": grid, **stats, "runs": runs}))
    return pd.concat(out, ignore_index=True)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_anytime(summary: pd.DataFrame, path: str | Path, metric: str, title: str | None = None) -> Path:
    """Best-so-far accuracy (the incumbent's ``metric``) against simulated time (log), one line
    (mean) and band (25-75 %) per run directory of ``summary`` (:func:`anytime_summary`); writes a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for (run_id, algorithm), group in summary.groupby(["run_id", "algorithm"], sort=False):
        seeds = int(group["runs"].max())
        (line,) = ax.plot(group["time_s"], group["mean"], label=f"{algorithm} ({str(run_id)[-6:]}, n={seeds})")
        ax.fill_between(group["time_s"], group["q25"], group["q75"], color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("search time (s, simulated)")
    ax.set_ylabel(f"{title or metric} of the incumbent (%)")
    ax.set_title("mean and 25-75 % over seeds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_time_vs_accuracy(choices: pd.DataFrame, path: str | Path, metric: str, title: str | None = None) -> Path:
    """Search time (log) against the chosen cells' accuracy, mean +- std per run directory (paper's fig. 7)."""
    plt = _pyplot()
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


def plot_pareto(frame: pd.DataFrame, truth: Truth, path: str | Path, ratios: pd.DataFrame | None = None) -> Path:
    """Every NAS-Bench-201 cell (grey), the true front (black), and per run directory of ``frame`` its
    evaluated cells and the front of their union over seeds, accuracy against cost (log); the legend
    gives each run's mean hypervolume ratio when ``ratios`` (:func:`~orchestrator.pareto_study.seed_ratios`)
    is given. Writes a PNG."""
    plt = _pyplot()
    acc, cost = truth.accuracy, truth.cost
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(truth.points[:, 1], truth.points[:, 0], s=1, c="0.8", label="all cells", rasterized=True)
    front = truth.front
    ax.step(front[cost], front[acc], where="post", c="k", lw=1.2, label=f"true front ({len(front)} cells)")
    found = found_points(frame, acc, cost)
    for (run_id, algorithm), group in found.groupby(["run_id", "algorithm"], sort=False):
        xy = group[[acc, cost]].to_numpy(float)
        mine = xy[pareto_front(xy, ACCURACY_VS_COST)]
        mine = mine[np.argsort(mine[:, 1], kind="stable")]
        label = f"{algorithm} ({str(run_id)[-6:]})"
        if ratios is not None:
            hv = ratios[ratios["run_id"] == run_id]["hv_ratio"]
            label += f": hv ratio {hv.mean():.3f} +- {hv.std(ddof=0):.3f}"
        (line,) = ax.step(mine[:, 1], mine[:, 0], where="post", marker="o", ms=3, lw=1, label=label)
        ax.scatter(xy[:, 1], xy[:, 0], s=4, alpha=0.25, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel(f"{cost}" + (f" on {truth.device}" if truth.device else ""))
    ax.set_ylabel(f"{acc} (%)")
    low = float(np.nanpercentile(truth.points[:, 0], 5))  # the useful part: leave out the untrainable cells
    ax.set_ylim(low, float(np.nanmax(truth.points[:, 0])) + 0.5)
    shown = truth.points[truth.points[:, 0] >= low, 1]
    ax.set_xlim(0.9 * float(shown.min()), 1.1 * float(shown.max()))
    ax.set_title(
        f"found fronts (union over seeds) and the true front\nhypervolume reference: {truth.describe_reference()}",
        fontsize=8,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def pareto_report(
    frame: pd.DataFrame, run_dirs: Sequence[str | Path], accuracy: str, cost: str | None
) -> tuple[str, Truth, pd.DataFrame]:
    """The text of ``--pareto``: per-seed hypervolume ratios, their mean +- std per run directory and
    the ratio of each directory's union of seeds; with the :class:`Truth` and the ratio table.

    Raises:
        TrueFrontError: a run whose true front is unknown, or runs judged against different fronts.
    """
    truths = [truth_for_run(read_config(d), accuracy, cost) for d in run_dirs]
    first = truths[0]
    for d, t in zip(run_dirs, truths, strict=True):
        if (t.cost, t.device) != (first.cost, first.device):
            raise TrueFrontError(
                f"{d} is judged on {t.cost} ({t.device}), {run_dirs[0]} on {first.cost} ({first.device}): "
                "report them one at a time"
            )
    ratios = seed_ratios(frame, first)
    lines = [
        f"true front: {len(first.front)} of {len(first.points)} NAS-Bench-201 cells, {first.accuracy} against "
        f"{first.cost}; reference point: {first.describe_reference()} (the table's worst accuracy and largest cost)",
        format_ratios(ratios),
    ]
    for run_id, group in frame.groupby("run_id", sort=False):
        lines.append(
            f"union of the {group['seed'].nunique()} seeds of {run_id}: hypervolume ratio {union_ratio(group, first):.4f}"
        )
    return "\n".join(lines), first, ratios


def method_label(config: dict, algorithm: str) -> str:
    """The method a run's ``config.json`` describes, for tables and legends: the algorithm, the
    training-free score it searches with (a fused ensemble as ``logrank(a+b)``), and its sizes, e.g.
    ``guided_ls synflow M=1000`` or ``naswot rank(naswot+synflow) N=100``."""
    name = config.get("algorithm", algorithm)
    words = [name]
    if name in ("naswot", "area", "guided_ls"):
        ensemble = config.get("ensemble") or []
        words.append(f"{config.get('fusion', 'rank')}({'+'.join(ensemble)})" if ensemble else config.get("proxy", ""))
    if name == "naswot":
        words.append(f"N={config.get('n')}")
    if name in ("area", "guided_ls"):
        words.append(f"M={config.get('m')}")
    if name in ("rea", "area", "mo_rea"):
        words.append(f"P={config.get('population_size')}")
    return " ".join(w for w in words if w)


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestrator.report RUN_DIR...``; returns the exit code (2: bad input)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run directories (each with history.parquet)")
    parser.add_argument(
        "--plot",
        default=None,
        help="write the anytime figure here (PNG): the incumbent's accuracy against simulated time; with "
        f"--pareto, the fronts' figure (default there: RUN_DIR/{PARETO_FIGURE})",
    )
    parser.add_argument("--scatter", default=None, help="write the final choices against search time here (PNG)")
    parser.add_argument(
        "--metric",
        default=None,
        help="the accuracy column of the figures (default: the first reported test accuracy; with --pareto "
        f"{DEFAULT_ACCURACY})",
    )
    parser.add_argument(
        "--pareto",
        action="store_true",
        help="judge the evaluated cells as an accuracy / cost front against NAS-Bench-201's true front",
    )
    parser.add_argument(
        "--cost",
        default=None,
        help="with --pareto: the cost column (default: the run's mo_rea objective, else latency)",
    )
    args = parser.parse_args(argv)
    try:
        parts = []
        for d in args.run_dirs:
            part = load_history(d)
            part["algorithm"] = method_label(read_config(d).get("config", {}), str(part["algorithm"].iloc[0]))
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
        specs: list[MetricSpec] = []
        for d in args.run_dirs:
            specs += [m for m in metric_specs(read_config(d)) if m not in specs]
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    titles = {m.name: m.title or m.name for m in specs}
    print(format_table(summarise(frame, specs=specs), titles))
    try:
        if args.pareto:
            text, truth, ratios = pareto_report(frame, args.run_dirs, args.metric or DEFAULT_ACCURACY, args.cost)
            print(f"\n{text}")
            path = args.plot or Path(args.run_dirs[0]) / PARETO_FIGURE
            print(f"figure: {plot_pareto(frame, truth, path, ratios)}")
            return 0
        shown = report_metrics(frame, specs)
        metric = args.metric or default_figure_metric(shown)
        if (args.plot or args.scatter) and (metric is None or metric not in frame.columns):
            raise ReportInputError(f"--metric {metric!r} is not a column of these histories: {shown}")
        if args.plot and metric is not None:
            summary = anytime_summary(anytime_curves(frame, metric))
            print(f"figure: {plot_anytime(summary, args.plot, metric, titles.get(metric))}")
        if args.scatter and metric is not None:
            print(f"figure: {plot_time_vs_accuracy(final_choices(frame), args.scatter, metric, titles.get(metric))}")
    except NaswotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
