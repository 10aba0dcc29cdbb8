"""Shared command-line plumbing of ``python -m orchestrator.<algorithm>`` (parsing only)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from orchestrator.experiment import ExperimentConfig, new_run_dir, prepare, resume_config, run_experiment
from orchestrator.history import load_history
from orchestrator.report import format_table, summarise
from scoring.options import (
    add_image_options,
    add_space_options,
    add_store_options,
    space_options_from_args,
    store_from_args,
)
from search_spaces.core.errors import NaswotError


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, and the description's own line breaks."""


def build_parser(algorithm: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m orchestrator.{algorithm}", description=description, formatter_class=_Formatter
    )
    p.add_argument("--runs", type=int, default=1, help="repeat with seeds seed .. seed+runs-1")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument(
        "--workers", type=int, default=1, help="Ray scoring actors (real parallelism; the answers do not depend on it)"
    )
    p.add_argument(
        "--sim-workers", type=int, default=1, help="virtual workers of the simulated clock (1: the papers' time model)"
    )
    p.add_argument("--executor", choices=["ray", "inline"], default="ray", help="where cells are scored")
    p.add_argument("--address", default=None, help="an existing Ray cluster (e.g. after `ray up cluster/gpu.yaml`)")
    p.add_argument("--gpus-per-worker", type=float, default=None, help="GPUs per scoring actor (fractions allowed)")
    p.add_argument("--cpus-per-worker", type=float, default=None, help="CPUs per scoring actor (fractions allowed)")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="what each scoring actor asks Ray for; auto: cuda when --gpus-per-worker is given or the cluster has GPUs",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=None,
        help="seconds to wait for the scoring actors (default: 120 for a local Ray, 900 with --address)",
    )
    p.add_argument(
        "--task-timeout",
        type=float,
        default=600.0,
        help="seconds one scoring request may run; then its actor is replaced and the request retried",
    )
    add_space_options(p)
    add_image_options(p)
    p.add_argument("--proxy", default="naswot", help="the training-free score (see scoring.proxies)")
    p.add_argument("--ensemble", default="", help="comma list of proxies: rank cells by their rank ensemble")
    add_store_options(p)
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
    from cluster.tune_run import add_tune_arguments  # --oracle tune (real training with Ray Tune)

    add_tune_arguments(p)
    return p


def config_from_args(algorithm: str, args: argparse.Namespace, **specific) -> ExperimentConfig:
    from cluster.tune_run import tune_extra

    return ExperimentConfig(
        algorithm=algorithm,
        runs=args.runs,
        seed=args.seed,
        workers=args.workers,
        sim_workers=args.sim_workers,
        dataset=args.dataset,
        batch_size=args.batch_size,
        batch_seed=args.batch_seed,
        init_seed=args.init_seed,
        benchmark_path=args.benchmark,
        data_dir=args.data_dir,
        store=store_from_args(args),
        space=args.space,
        space_options=space_options_from_args(args),
        failure_cost_s=args.failure_cost,
        max_consecutive_failures=args.max_consecutive_failures,
        executor=args.executor,
        address=args.address,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        device=args.device,
        startup_timeout_s=args.startup_timeout,
        task_timeout_s=args.task_timeout,
        proxy=args.proxy,
        ensemble=tuple(p.strip() for p in args.ensemble.split(",") if p.strip()),
        extra=tune_extra(args),
        **specific,
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
    }
)
# Option dest -> ExperimentConfig field, where the names differ.
_FIELD_OF = {
    "benchmark": "benchmark_path",
    "stem_channels": "space_options",
    "no_store": "store",
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
            kwargs = {"dest": action.dest, "default": argparse.SUPPRESS}
            if action.nargs == 0:
                probe.add_argument(*action.option_strings, action="store_const", const=True, **kwargs)
            else:
                probe.add_argument(*action.option_strings, nargs=action.nargs, **kwargs)
    known, _ = probe.parse_known_args(argv)
    return set(vars(known))


def resumed_config(
    algorithm: str, run_dir: Path, args: argparse.Namespace, given: set[str], specific: dict
) -> ExperimentConfig:
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
    now_config = config_from_args(algorithm, args, **specific)
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


def main_for(algorithm: str, description: str, add_arguments, specific_from_args, argv: list[str] | None = None) -> int:
    """Parse, validate every input, and only then create the run directory and start Ray.

    Exit codes: 0 done, 2 bad input (one line on stderr, nothing left behind), 130 interrupted.
    """
    parser = build_parser(algorithm, description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    run_dir: Path = Path(args.resume) if args.resume else new_run_dir(args.out, algorithm)
    try:
        if args.resume:
            if not run_dir.is_dir():
                raise NaswotError(f"--resume {run_dir}: no such run directory")
            config = resumed_config(algorithm, run_dir, args, explicit_options(parser, argv), specific_from_args(args))
        else:
            if args.repair:
                raise NaswotError("--repair only goes with --resume RUN_DIR")
            config = config_from_args(algorithm, args, **specific_from_args(args))
        if config.extra.get("oracle") == "tune":  # real training: Ray Tune drives the search
            from cluster.tune_run import main_tune

            return main_tune(config, run_dir, resume=bool(args.resume), progress=not args.no_progress)
        prepared = prepare(config)
    except (NaswotError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        print(f"resuming {run_dir} ({config.algorithm}, {config.runs} runs from seed {config.seed})", file=sys.stderr)
    else:
        print(f"run directory: {run_dir}", file=sys.stderr)
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
    frame = load_history(run_dir)
    print(format_table(summarise(frame, config.budget_s)))
    print(f"\nhistory: {run_dir / 'history.parquet'}  (pandas.read_parquet)")
    return 0
