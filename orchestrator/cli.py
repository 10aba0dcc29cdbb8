"""Shared command-line plumbing of ``python -m orchestrator.<algorithm>`` (parsing only).

Every algorithm's command takes the same option groups (defined once: :mod:`orchestrator.options`,
:mod:`scoring.options`, :mod:`search_spaces.core.options`) plus its own search options, and runs
through the one runner, :func:`orchestrator.experiment.run_experiment`, whichever oracle it uses.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from orchestrator.config import ExperimentConfig
from orchestrator.experiment import new_run_dir, prepare, resume_config, run_experiment
from orchestrator.history import CURVES_DIR, HISTORY_DIR, load_history, read_config
from orchestrator.options import (
    add_constraint_options,
    add_pool_options,
    add_search_options,
    add_tune_options,
    constraints_from_args,
    pool_options_from_args,
    search_fields_from_args,
    tune_options_from_args,
)
from orchestrator.report import format_table, metric_specs, metric_titles, summarise
from scoring.options import (
    add_image_options,
    add_seed_option,
    add_space_options,
    add_store_options,
    space_options_from_args,
    store_from_args,
)
from search_spaces.core.errors import NaswotError


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, and the description's own line breaks."""


def build_parser(algorithm: str, description: str) -> argparse.ArgumentParser:
    """The parser of ``python -m orchestrator.<algorithm>``."""
    p = argparse.ArgumentParser(
        prog=f"python -m orchestrator.{algorithm}", description=description, formatter_class=_Formatter
    )
    p.add_argument("--runs", type=int, default=1, help="repeat with seeds seed .. seed+runs-1")
    add_seed_option(p, "first seed")
    add_search_options(p, algorithm)
    p.add_argument(
        "--sim-workers", type=int, default=1, help="virtual workers of the simulated clock (1: the papers' time model)"
    )
    add_pool_options(p)
    add_space_options(p)
    add_image_options(p)
    add_store_options(p)
    add_constraint_options(p)
    p.add_argument(
        "--failure-cost", type=float, default=1.0, help="the least simulated seconds a failed candidate charges"
    )
    p.add_argument(
        "--max-consecutive-failures",
        type=int,
        default=100,
        help="stop a run with an error after this many failed candidates in a row (0: never)",
    )
    p.add_argument("--out", default="runs", help="where new run directories are created")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a stopped run (its config is reused)")
    p.add_argument("--repair", action="store_true", help="with --resume: move corrupt history parts aside")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_tune_options(p)
    return p


def config_from_args(algorithm: str, args: argparse.Namespace) -> ExperimentConfig:
    """The :class:`ExperimentConfig` of the parsed arguments (validated on construction)."""
    pool = dataclasses.asdict(pool_options_from_args(args))
    return ExperimentConfig(
        algorithm=algorithm,
        runs=args.runs,
        seed=args.seed,
        sim_workers=args.sim_workers,
        dataset=args.dataset,
        batch_size=args.batch_size,
        batch_seed=args.batch_seed,
        init_seed=args.init_seed,
        benchmark_path=args.benchmark,
        data_dir=args.data_dir,
        store=store_from_args(args),
        shipped_scores=not args.no_shipped_scores,
        space=args.space,
        space_options=space_options_from_args(args),
        failure_cost_s=args.failure_cost,
        max_consecutive_failures=args.max_consecutive_failures,
        oracle=args.oracle,
        tune=tune_options_from_args(args),
        constraints=constraints_from_args(args),
        **pool,
        **search_fields_from_args(algorithm, args),
    )


# Options that change where or how visibly a run executes, never its answers: allowed beside --resume.
HARMLESS_ON_RESUME = frozenset(
    {
        "resume",
        "repair",
        "no_progress",
        "out",
        "workers",
        "executor",
        "address",
        "gpus_per_worker",
        "cpus_per_worker",
        "device",
        "startup_timeout",
        "task_timeout",
        "cells_per_call",
    }
)
# Option dest -> ExperimentConfig field, where the names differ.
_FIELD_OF = {
    "benchmark": "benchmark_path",
    "stem_channels": "space_options",
    "no_store": "store",
    "no_shipped_scores": "shipped_scores",
    "failure_cost": "failure_cost_s",
    "budget": "budget_s",
    "population": "population_size",
    "startup_timeout": "startup_timeout_s",
    "task_timeout": "task_timeout_s",
}


def explicit_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """The dests of the options given on the command line (not left at their defaults)."""
    probe = argparse.ArgumentParser(add_help=False)
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            kwargs: dict[str, Any] = {"dest": action.dest, "default": argparse.SUPPRESS}
            if action.nargs == 0:
                probe.add_argument(*action.option_strings, action="store_const", const=True, **kwargs)
            else:
                probe.add_argument(*action.option_strings, nargs=action.nargs, **kwargs)
    known, _ = probe.parse_known_args(argv)
    return set(vars(known))


def resumed_config(algorithm: str, run_dir: Path, args: argparse.Namespace, given: set[str]) -> ExperimentConfig:
    """The stored configuration of ``run_dir``, with the harmless options given now applied.

    Raises:
        NaswotError: the run is another algorithm's, or an option given now conflicts with the stored
            configuration (named, with both values).
    """
    stored = resume_config(run_dir)
    if stored.algorithm != algorithm:
        raise NaswotError(
            f"{run_dir} is a {stored.algorithm} run: resume it with python -m orchestrator.{stored.algorithm} --resume"
        )
    try:
        now_config = config_from_args(algorithm, args)
    except (NaswotError, ValueError):
        # the stored run's options (e.g. its --latency-device) are not repeated now: fine when only
        # options that change where it runs are given
        if not given <= HARMLESS_ON_RESUME:
            raise
        now_config = dataclasses.replace(stored, **dataclasses.asdict(pool_options_from_args(args)))
    now, then = now_config.to_json(), stored.to_json()
    conflicts, updates = [], {}
    for dest in sorted(given):
        field = _FIELD_OF.get(dest, dest)
        if field not in then or now[field] == then[field]:
            continue
        if dest in HARMLESS_ON_RESUME:
            updates[field] = getattr(now_config, field)
        else:
            flag = "--" + dest.replace("_", "-")
            conflicts.append(f"{flag} ({now[field]!r}; the run has {then[field]!r})")
    if conflicts:
        raise NaswotError(f"cannot resume {run_dir} with other settings: {', '.join(conflicts)}")
    return dataclasses.replace(stored, **updates) if updates else stored


def print_summary(run_dir: Path, config: ExperimentConfig) -> None:
    """The summary table of a finished run and where its history lies."""
    frame = load_history(run_dir)
    record = read_config(run_dir)
    print(format_table(summarise(frame, config.budget_s, metric_specs(record)), metric_titles(record)))
    print(f"\nhistory: {run_dir / HISTORY_DIR}  (pandas.read_parquet)")
    if (run_dir / CURVES_DIR).is_dir():
        print(f"curves:  {run_dir / CURVES_DIR}  (pandas.read_parquet)")


def main_for(algorithm: str, description: str, argv: list[str] | None = None) -> int:
    """Parse, validate every input, and only then create the run directory and start Ray.

    Exit codes: 0 done, 2 bad input (one line on stderr, nothing left behind), 130 interrupted.
    """
    parser = build_parser(algorithm, description)
    args = parser.parse_args(argv)
    run_dir: Path = Path(args.resume) if args.resume else new_run_dir(args.out, algorithm)
    try:
        if args.resume:
            if not run_dir.is_dir():
                raise NaswotError(f"--resume {run_dir}: no such run directory")
            config = resumed_config(algorithm, run_dir, args, explicit_options(parser, argv))
        else:
            if args.repair:
                raise NaswotError("--repair only goes with --resume RUN_DIR")
            config = config_from_args(algorithm, args)
        prepared = prepare(config)
    except (NaswotError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        print(f"resuming {run_dir} ({config.algorithm}, {config.runs} runs from seed {config.seed})", file=sys.stderr)
    else:
        print(f"run directory: {run_dir}", file=sys.stderr)
    if config.oracle == "tune":
        # Checkpoints every epoch with num_to_keep=1 force a Tune state snapshot each time; Tune then warns
        # once per snapshot, which buries the output of a CLI run. The user's own setting wins.
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    try:
        run_experiment(
            config,
            run_dir,
            resume=bool(args.resume),
            repair=args.repair,
            progress=not args.no_progress,
            prepared=prepared,
            argv=list(sys.argv[1:] if argv is None else argv),
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the history so far is saved; continue with\n"
            f"  python -m orchestrator.{algorithm} --resume {run_dir}",
            file=sys.stderr,
        )
        return 130
    except (NaswotError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if run_dir.is_dir():
            print(f"the history so far is in {run_dir}", file=sys.stderr)
        return 2
    print_summary(run_dir, config)
    return 0
