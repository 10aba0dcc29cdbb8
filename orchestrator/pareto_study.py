"""How close a multi-objective search comes to NAS-Bench-201's true accuracy / cost front.

    python -m orchestrator.pareto_study --runs 20
    python -m orchestrator.pareto_study --runs 20 --population 20 --sample-size 5 --selection hvc

The study runs ``mo_rea`` (and, for comparison, the ``--baselines``) ``--runs`` times within REA's
budget (12,000 simulated seconds of 12-epoch training) on NAS-Bench-201, minimising the latency on
``--device`` (HW-NAS-Bench's Pixel 3 by default) beside the 12-epoch validation accuracy, and prints
the hypervolume ratio of each run's found front to the true front, mean +- std over runs.

Judging (the same as ``python -m orchestrator.report --pareto``): a run's *found* cells are its
successful evaluations; they are placed at their 200-epoch ``cifar10_test`` accuracy (which the
search never sees) and recorded cost. The *true* front is the non-dominated set of all 15,625
cells: test accuracy from the embedded table, cost from the same tables the run's costs came from
(:func:`truth_of`). The hypervolume's reference point is the worst accuracy and the largest cost of
the whole table (``--reference-accuracy`` sets a stricter accuracy), so every cell but the two
extremes counts and the ratio is 1 exactly when the found cells reach the true front.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from orchestrator.config import ExperimentConfig
from orchestrator.constraints import Constraints
from orchestrator.experiment import new_run_dir, run_experiment
from orchestrator.history import load_history
from orchestrator.mo_searchers import (
    DEFAULT_OBJECTIVE_COST,
    DEFAULT_SELECTION,
    FLOPS_COST,
    LATENCY_COST,
    OBJECTIVE_COSTS,
    PARAMS_COST,
    SELECTIONS,
)
from orchestrator.options import DEFAULT_BUDGET_S
from orchestrator.pareto import ACCURACY_VS_COST, hypervolume, hypervolume_ratio, pareto_front, true_front
from search_spaces.core.errors import NaswotError, UnknownNameError
from search_spaces.core.options import add_seed_option
from search_spaces.core.records import Kind, Status
from search_spaces.nb201.benchmark import EmbeddedNB201Table
from search_spaces.nb201.latency import LATENCY_DEVICES

DEFAULT_ACCURACY = "cifar10_test"  # 200 epochs: what the front is judged on (the search sees 12-epoch valid)
DEFAULT_DEVICE = "hwnb_pixel3"
TARGET_RATIO = 0.98
_TABLE_SPACE = "nb201"


class TrueFrontError(NaswotError, ValueError):
    """A run whose true front is unknown (not NAS-Bench-201's table network, no recorded cost)."""


@dataclass(frozen=True)
class Truth:
    """The true front of one (accuracy, cost) pair over every NAS-Bench-201 cell.

    Attributes:
        accuracy, cost: the history columns judged (e.g. ``cifar10_test``, ``cell_latency_ms``).
        device: the latency device (None for parameters or FLOPs).
        points: ``(15625, 2)`` accuracy and cost of every cell, benchmark index order.
        front: the non-dominated cells (:func:`orchestrator.pareto.true_front`), by rising cost.
        reference: (accuracy, cost) of the hypervolume's reference point.
    """

    accuracy: str
    cost: str
    device: str | None
    points: np.ndarray
    front: pd.DataFrame
    reference: tuple[float, float]

    @property
    def hypervolume(self) -> float:
        """The true front's hypervolume for :attr:`reference`."""
        return hypervolume(self.front.to_numpy(), self.reference, ACCURACY_VS_COST)

    def describe_reference(self) -> str:
        """The reference point in words, with units."""
        unit = {LATENCY_COST: "ms", PARAMS_COST: "M params", FLOPS_COST: "M FLOPs"}[self.cost]
        on = f" on {self.device}" if self.device else ""
        return f"{self.accuracy} {self.reference[0]:.2f} %, {self.cost} {self.reference[1]:.4g} {unit}{on}"


def table_costs(cost: str, device: str | None) -> np.ndarray:
    """``cost`` (one of :data:`~orchestrator.mo_searchers.OBJECTIVE_COSTS`) of every NAS-Bench-201 cell of
    the benchmark network, from the tables the constraints read (benchmark index order).

    Raises:
        TrueFrontError: latency without a table device.
        UnknownNameError: an unknown cost.
    """
    from search_spaces.nb201.latency import flops_column, latency_column

    if cost == LATENCY_COST:
        if device not in LATENCY_DEVICES:
            raise TrueFrontError(
                f"the true latency front needs a device of the NB201 latency table, got {device!r} "
                f"(one of {', '.join(LATENCY_DEVICES)})"
            )
        return np.asarray(latency_column(device), dtype=float)
    if cost == FLOPS_COST:
        return np.asarray(flops_column(), dtype=float)
    if cost == PARAMS_COST:
        return np.asarray(_table().column("params_m"), dtype=float)
    raise UnknownNameError("objective cost", cost, OBJECTIVE_COSTS)


def _table() -> EmbeddedNB201Table:
    """The embedded NB201 table (its per-column arrays)."""
    return EmbeddedNB201Table()


def truth_of(
    accuracy: str = DEFAULT_ACCURACY,
    cost: str = DEFAULT_OBJECTIVE_COST,
    device: str | None = DEFAULT_DEVICE,
    reference_accuracy: float | None = None,
) -> Truth:
    """The true front of ``accuracy`` (a column of the embedded NB201 table) against ``cost`` over all
    15,625 cells, with the reference point (``reference_accuracy`` or the table's worst accuracy,
    the table's largest cost).

    Raises:
        TrueFrontError: see :func:`table_costs`.
        UnknownNameError: ``accuracy`` is not a table column.
    """
    acc = np.asarray(_table().column(accuracy), dtype=float)
    costs = table_costs(cost, device)
    points = np.column_stack([acc, costs])
    known = points[np.isfinite(points).all(axis=1)]
    worst = float(known[:, 0].min()) if reference_accuracy is None else float(reference_accuracy)
    reference = (worst, float(known[:, 1].max()))
    front = true_front(pd.DataFrame({accuracy: acc, cost: costs}), accuracy, cost)
    return Truth(accuracy, cost, device if cost == LATENCY_COST else None, points, front, reference)


def truth_for_run(config_record: dict, accuracy: str = DEFAULT_ACCURACY, cost: str | None = None) -> Truth:
    """The :class:`Truth` a run is judged against, from its ``config.json`` record: its space must be
    NAS-Bench-201's table network, and its costs recorded (``cost`` default: the run's mo_rea
    objective, else the latency).

    Raises:
        TrueFrontError: another space or network, or no recorded costs.
    """
    config = config_record.get("config", {})
    constraints = config.get("constraints") or None
    if (
        config.get("space") != _TABLE_SPACE
        or config.get("space_options")
        or config.get("dataset", "cifar10") != "cifar10"
    ):
        raise TrueFrontError(
            f"the true front is known only for {_TABLE_SPACE}'s benchmark network on cifar10 "
            f"(this run: space {config.get('space')!r}, options {config.get('space_options')}, dataset {config.get('dataset')!r})"
        )
    if constraints is None:
        raise TrueFrontError("this run recorded no costs: run it with --latency-device DEVICE (or a limit)")
    if cost is None:
        cost = config.get("objective_cost", LATENCY_COST) if config.get("algorithm") == "mo_rea" else LATENCY_COST
    return truth_of(accuracy, cost, constraints.get("latency_device"))


def found_points(frame: pd.DataFrame, accuracy: str, cost: str) -> pd.DataFrame:
    """The successful evaluations of ``frame`` (a history) with a finite ``accuracy`` and ``cost``.

    Raises:
        TrueFrontError: the history has no ``cost`` or ``accuracy`` column.
    """
    missing = [c for c in (accuracy, cost) if c not in frame.columns]
    if missing:
        raise TrueFrontError(f"the history has no column {missing[0]!r}: it recorded no such value")
    rows = frame[(frame["kind"] == Kind.EVALUATE.value) & (frame["status"] == Status.OK.value)]
    return rows[np.isfinite(rows[accuracy].to_numpy(float)) & np.isfinite(rows[cost].to_numpy(float))]


def seed_ratios(frame: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """One row per (run_id, algorithm, seed) of ``frame``: evaluations, found front size, hypervolume
    and its ratio to the true front's (``hv_ratio``), for ``truth``'s columns and reference."""
    points = found_points(frame, truth.accuracy, truth.cost)
    rows = []
    true_hv = truth.hypervolume
    for (run_id, algorithm, seed), _group in frame.groupby(["run_id", "algorithm", "seed"], sort=True):
        mine = points[(points["run_id"] == run_id) & (points["seed"] == seed)]
        xy = mine[[truth.accuracy, truth.cost]].to_numpy(float)
        hv = hypervolume(xy, truth.reference, ACCURACY_VS_COST)
        rows.append(
            {
                "run_id": run_id,
                "algorithm": algorithm,
                "seed": int(seed),
                "evaluations": len(mine),
                "front_size": len(pareto_front(xy, ACCURACY_VS_COST)),
                "hypervolume": hv,
                "hv_ratio": hv / true_hv,
            }
        )
    return pd.DataFrame(rows)


def union_ratio(frame: pd.DataFrame, truth: Truth) -> float:
    """The hypervolume ratio of the union of every seed's found cells in ``frame``."""
    xy = found_points(frame, truth.accuracy, truth.cost)[[truth.accuracy, truth.cost]].to_numpy(float)
    return hypervolume_ratio(xy, truth.front.to_numpy(), truth.reference, ACCURACY_VS_COST)


def format_ratios(ratios: pd.DataFrame, per_seed: bool = True) -> str:
    """Per-seed rows (``per_seed``) and one mean +- std line per (run_id, algorithm), as plain text."""
    lines = []
    if per_seed:
        lines.append(f"{'method':<22}{'seed':>6}{'evals':>7}{'front':>7}{'hv ratio':>10}")
        for _, r in ratios.iterrows():
            name = f"{r['algorithm']} ({str(r['run_id'])[-6:]})"
            lines.append(f"{name:<22}{r['seed']:>6}{r['evaluations']:>7}{r['front_size']:>7}{r['hv_ratio']:>10.4f}")
        lines.append("")
    for (run_id, algorithm), group in ratios.groupby(["run_id", "algorithm"], sort=False):
        hv = group["hv_ratio"]
        lines.append(
            f"{algorithm} ({str(run_id)[-6:]}): hypervolume ratio {hv.mean():.4f} +- {hv.std(ddof=0):.4f} over "
            f"{len(group)} runs (min {hv.min():.4f}, max {hv.max():.4f}); {group['evaluations'].mean():.1f} "
            f"evaluations and {group['front_size'].mean():.1f} front cells per run"
        )
    return "\n".join(lines)


def _config(algorithm: str, args: argparse.Namespace) -> ExperimentConfig:
    """The study's configuration of ``algorithm``: REA's budget, costs recorded on ``--device``, no scoring."""
    extra: dict[str, Any] = {}
    if algorithm in ("rea", "mo_rea"):
        extra.update(population_size=args.population, sample_size=args.sample_size)
    if algorithm == "mo_rea":
        extra.update(objective_cost=args.objective_cost, selection=args.selection)
    return ExperimentConfig(
        algorithm=algorithm,
        runs=args.runs,
        seed=args.seed,
        budget_s=args.budget,
        executor="inline",
        store=None,
        constraints=Constraints(latency_device=args.device),
        **extra,
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m orchestrator.pareto_study``."""
    p = argparse.ArgumentParser(
        prog="python -m orchestrator.pareto_study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=int, default=20, help="seeded runs per method")
    add_seed_option(p, "first seed")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="simulated seconds per run")
    p.add_argument("--population", type=int, default=10, help="population size P (mo_rea, rea)")
    p.add_argument("--sample-size", type=int, default=3, help="tournament size S (mo_rea, rea)")
    p.add_argument("--selection", choices=list(SELECTIONS), default=DEFAULT_SELECTION, help="mo_rea's tie-break")
    p.add_argument("--objective-cost", choices=list(OBJECTIVE_COSTS), default=DEFAULT_OBJECTIVE_COST)
    p.add_argument("--device", choices=list(LATENCY_DEVICES), default=DEFAULT_DEVICE, help="latency device")
    p.add_argument(
        "--baselines", default="random", help="comma list of single-objective algorithms to compare (e.g. random,rea)"
    )
    p.add_argument(
        "--reference-accuracy",
        type=float,
        default=None,
        help="accuracy of the reference point (default: the table's worst)",
    )
    p.add_argument("--per-seed", action="store_true", help="print every run's ratio")
    p.add_argument("--out", default="runs", help="where the run directories are created")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study; returns the exit code (2: bad input)."""
    args = build_parser().parse_args(argv)
    methods = ["mo_rea", *[b.strip() for b in args.baselines.split(",") if b.strip()]]
    try:
        configs = [_config(m, args) for m in methods]
        truth = truth_of(DEFAULT_ACCURACY, args.objective_cost, args.device, args.reference_accuracy)
    except (NaswotError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    frames = []
    for config in configs:
        run_dir = new_run_dir(args.out, config.algorithm)
        run_experiment(config, run_dir, progress=False)
        print(f"{config.algorithm}: {run_dir}", file=sys.stderr)
        frames.append(load_history(run_dir))
    ratios = seed_ratios(pd.concat(frames, ignore_index=True), truth)
    print(
        f"true front: {len(truth.front)} of {len(truth.points)} cells, {truth.accuracy} against {truth.cost}; "
        f"reference point: {truth.describe_reference()}"
    )
    print(
        f"mo_rea: P={args.population}, S={args.sample_size}, selection {args.selection}; budget {args.budget:g} s per run"
    )
    print(format_ratios(ratios, per_seed=args.per_seed))
    mo = ratios[ratios["algorithm"] == "mo_rea"]["hv_ratio"]
    verdict = "met" if mo.mean() >= TARGET_RATIO else "NOT met"
    print(f"target mean hypervolume ratio >= {TARGET_RATIO}: {verdict} ({mo.mean():.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
