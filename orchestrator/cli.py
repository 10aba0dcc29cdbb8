"""Shared command-line plumbing of ``python -m orchestrator.<algorithm>`` (parsing only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from search_spaces.errors import NaswotError

from .experiment import ExperimentConfig, new_run_dir, resume_config, run_experiment
from .history import load_history
from .report import format_table, summarise


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, and the description's own line breaks."""


def build_parser(algorithm: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m orchestrator.{algorithm}", description=description, formatter_class=_Formatter
    )
    p.add_argument("--runs", type=int, default=1, help="repeat with seeds seed .. seed+runs-1")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument(
        "--workers", type=int, default=1, help="Ray scoring actors, and the virtual workers of the simulated clock"
    )
    p.add_argument(
        "--sim-workers", type=int, default=None, help="virtual workers of the simulated clock (default: --workers)"
    )
    p.add_argument("--executor", choices=["ray", "inline"], default="ray", help="where cells are scored")
    p.add_argument("--address", default=None, help="an existing Ray cluster (e.g. after `ray up cluster/gpu.yaml`)")
    p.add_argument("--gpus-per-worker", type=float, default=None, help="GPUs per scoring actor (fractions allowed)")
    p.add_argument("--cpus-per-worker", type=float, default=None, help="CPUs per scoring actor (fractions allowed)")
    p.add_argument(
        "--dataset",
        choices=["cifar10", "cifar100", "imagenet16"],
        default="cifar10",
        help="images the cells are scored on",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batch-seed", type=int, default=0, help="which minibatch of the image pool")
    p.add_argument("--init-seed", type=int, default=0, help="initialisation seed of scored networks")
    p.add_argument(
        "--benchmark", default=None, help="a NATS-Bench topology directory (default: the embedded NB201 table)"
    )
    p.add_argument(
        "--data-dir", default=None, help="a cifar-10-batches-py / cifar-100-python directory (default: embedded images)"
    )
    p.add_argument("--proxy", default="naswot", help="the training-free score (see scoring.proxies)")
    p.add_argument("--ensemble", default="", help="comma list of proxies: rank cells by their rank ensemble")
    p.add_argument("--store", default="runs/scores", help="shared score store directory")
    p.add_argument("--no-store", action="store_true", help="score every cell afresh, cache nothing")
    p.add_argument("--out", default="runs", help="where new run directories are created")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a stopped run (its config is reused)")
    p.add_argument("--no-progress", action="store_true")
    return p


def config_from_args(algorithm: str, args: argparse.Namespace, **specific) -> ExperimentConfig:
    return ExperimentConfig(
        algorithm=algorithm,
        runs=args.runs,
        seed=args.seed,
        workers=args.sim_workers or args.workers,
        dataset=args.dataset,
        batch_size=args.batch_size,
        batch_seed=args.batch_seed,
        init_seed=args.init_seed,
        benchmark_path=args.benchmark,
        data_dir=args.data_dir,
        store=None if args.no_store else args.store,
        executor=args.executor,
        address=args.address,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        proxy=args.proxy,
        ensemble=tuple(p.strip() for p in args.ensemble.split(",") if p.strip()),
        extra={"scoring_actors": args.workers},
        **specific,
    )


def main_for(algorithm: str, description: str, add_arguments, specific_from_args, argv: list[str] | None = None) -> int:
    parser = build_parser(algorithm, description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    run_dir: Path | str = args.resume or "RUN_DIR"
    try:
        if args.resume:
            run_dir = Path(args.resume)
            config = resume_config(run_dir)
            print(
                f"resuming {run_dir} ({config.algorithm}, {config.runs} runs from seed {config.seed})", file=sys.stderr
            )
        else:
            config = config_from_args(algorithm, args, **specific_from_args(args))
            run_dir = new_run_dir(args.out, algorithm)
            print(f"run directory: {run_dir}", file=sys.stderr)
        pool = None
        if config.algorithm in ("naswot", "area") and config.executor == "ray":
            from cluster.ray_pool import RayScoringPool

            actors = int(config.extra.get("scoring_actors", config.workers))
            pool = RayScoringPool(
                config.scorer_config(),
                workers=actors,
                address=config.address,
                gpus_per_worker=config.gpus_per_worker,
                cpus_per_worker=config.cpus_per_worker,
            )
        try:
            run_experiment(config, run_dir, resume=bool(args.resume), pool=pool, progress=not args.no_progress)
        finally:
            if pool is not None:
                pool.close()
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the history so far is saved; continue with\n"
            f"  python -m orchestrator.{algorithm} --resume {run_dir}",
            file=sys.stderr,
        )
        return 130
    except (NaswotError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    frame = load_history(run_dir)
    print(format_table(summarise(frame, config.budget_s)))
    print(f"\nhistory: {run_dir / 'history.parquet'}  (pandas.read_parquet)")
    return 0
