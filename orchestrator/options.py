"""The top floor's command-line option groups, defined once: where cells are scored (Ray address,
workers, device, resources, timeouts) and real training (``--oracle tune``). Each group has its
parser, so every command that takes them gets the same flags, defaults and validation."""

from __future__ import annotations

import argparse
from typing import Any

from cluster.tuner import SCHEDULERS, TuneOptions
from orchestrator.algorithms import algorithm
from orchestrator.config import EXECUTORS, ORACLES, PoolOptions
from orchestrator.constraints import KNOWN_DEVICES, Constraints
from orchestrator.mo_searchers import DEFAULT_OBJECTIVE_COST, DEFAULT_SELECTION, OBJECTIVE_COSTS, SELECTIONS
from orchestrator.searchers import FUSIONS
from scoring.data import INPUT_SHAPES, NUM_CLASSES


def add_pool_options(parser: argparse.ArgumentParser, *, default_executor: str = "ray") -> None:
    """``--workers``, ``--executor``, ``--address``, ``--device``, ``--gpus-per-worker``,
    ``--cpus-per-worker``, ``--startup-timeout``, ``--task-timeout`` and ``--cells-per-call``."""
    group = parser.add_argument_group("where cells are scored")
    group.add_argument(
        "--workers", type=int, default=1, help="Ray scoring actors (real parallelism; the answers do not depend on it)"
    )
    group.add_argument("--executor", choices=list(EXECUTORS), default=default_executor, help="where cells are scored")
    group.add_argument("--address", default=None, help="an existing Ray cluster (e.g. after `ray up cluster/gpu.yaml`)")
    group.add_argument("--gpus-per-worker", type=float, default=None, help="GPUs per scoring actor (fractions allowed)")
    group.add_argument("--cpus-per-worker", type=float, default=None, help="CPUs per scoring actor (fractions allowed)")
    group.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="what each scoring actor asks Ray for; auto: cuda when --gpus-per-worker is given or the cluster has GPUs",
    )
    group.add_argument(
        "--startup-timeout",
        type=float,
        default=None,
        help="seconds to wait for the scoring actors (default: 120 for a local Ray, 900 with --address)",
    )
    group.add_argument(
        "--task-timeout",
        type=float,
        default=600.0,
        help="seconds one scoring request may run; then its actor is replaced and the request retried",
    )
    group.add_argument(
        "--cells-per-call",
        type=int,
        default=None,
        help="scoring requests per Ray actor call (default 1 on the CPU, 8 on a GPU; the answers do not depend on it)",
    )


def pool_options_from_args(args: argparse.Namespace) -> PoolOptions:
    """The :class:`PoolOptions` of the parsed arguments (validated: ``ValueError`` / ``NaswotError``)."""
    return PoolOptions(
        executor=args.executor,
        workers=args.workers,
        address=args.address,
        device=args.device,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        startup_timeout_s=args.startup_timeout,
        task_timeout_s=args.task_timeout,
        cells_per_call=args.cells_per_call,
    )


def add_tune_options(parser: argparse.ArgumentParser, *, with_oracle: bool = True) -> None:
    """The real-training options (``--oracle``, ``--epochs``, ``--trials``, ...); ``with_oracle``
    False leaves out ``--oracle`` (commands that always train)."""
    group = parser.add_argument_group("real training (--oracle tune)")
    if with_oracle:
        group.add_argument(
            "--oracle",
            choices=list(ORACLES),
            default="lookup",
            help="lookup: the benchmark table on simulated time; tune: train every cell with Ray Tune (--budget: real s)",
        )
    group.add_argument("--epochs", type=int, default=12, help="training epochs per cell (12: the lookup's proxy)")
    group.add_argument("--trials", type=int, default=None, help="cells trained per run (default: until --budget)")
    group.add_argument("--concurrent-trials", type=int, default=None, help="trials at a time (default: --workers)")
    group.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial (fractions allowed)")
    group.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial")
    group.add_argument("--scheduler", choices=list(SCHEDULERS), default="none", help="asha: stop weak trials early")
    group.add_argument("--reduction-factor", type=int, default=3, help="ASHA's reduction factor")
    group.add_argument("--max-failures", type=int, default=2, help="retries of a trial that raised")
    group.add_argument("--train-images", type=int, default=None, help="embedded images used, half for validation")
    group.add_argument("--images-npz", default=None, help="train on an .npz of images and labels (split in half)")
    group.add_argument("--channels", type=int, default=16, help="width C of the trained network")
    group.add_argument("--cells-per-stage", type=int, default=5, help="cells N per stage of the trained network")
    group.add_argument("--train-batch-size", type=int, default=256, help="training batch (NAS-Bench-201: 256)")


def tune_options_from_args(args: argparse.Namespace) -> TuneOptions | None:
    """The :class:`TuneOptions` of the parsed arguments, or None unless ``--oracle tune`` (commands
    without ``--oracle`` always train).

    Raises:
        ValueError / UnknownNameError: invalid training options.
    """
    if getattr(args, "oracle", "tune") != "tune":
        return None
    return TuneOptions(
        epochs=args.epochs,
        trials=args.trials,
        concurrent=args.concurrent_trials or getattr(args, "workers", 1),
        gpus_per_trial=args.gpus_per_trial,
        cpus_per_trial=args.cpus_per_trial,
        scheduler=args.scheduler,
        reduction_factor=args.reduction_factor,
        max_failures=args.max_failures,
        images=args.train_images,
        images_npz=args.images_npz,
        channels=args.channels,
        cells_per_stage=args.cells_per_stage,
        batch_size=args.train_batch_size,
    )


DEFAULT_BUDGET_S = 12000.0  # the benchmark papers' REA / AREA budget on NAS-Bench-201


def add_search_options(parser: argparse.ArgumentParser, name: str) -> None:
    """The options of algorithm ``name`` (see :data:`orchestrator.algorithms.ALGORITHMS`): its budget
    when it evaluates, REA's population and tournament, AREA's M, NASWOT's N, and the proxy of the
    algorithms that score."""
    spec = algorithm(name)
    group = parser.add_argument_group(f"{name} search")
    if spec.evaluates:
        group.add_argument(
            "--budget",
            type=float,
            default=None,
            help=f"seconds per run: simulated with --oracle lookup, real with tune (default {DEFAULT_BUDGET_S:g}, "
            "or none when --max-evaluations is given)",
        )
        group.add_argument(
            "--max-evaluations",
            type=int,
            default=None,
            help="stop a run after this many accuracy evaluations (a budget for benchmarks without training times)",
        )
    if name in ("rea", "area", "mo_rea"):
        group.add_argument("--population", type=int, default=10, help="population size P")
        group.add_argument("--sample-size", type=int, default=3, help="tournament size S (NAS-Bench-201's REA: 3)")
    if name == "mo_rea":
        group.add_argument(
            "--objective-cost",
            choices=list(OBJECTIVE_COSTS),
            default=DEFAULT_OBJECTIVE_COST,
            help="the recorded cost minimised beside the fitness (needs --latency-device, or a limit)",
        )
        group.add_argument(
            "--selection",
            choices=list(SELECTIONS),
            default=DEFAULT_SELECTION,
            help="tournament tie-break among equal non-dominated ranks: crowding distance or hypervolume contribution",
        )
    if name == "area":
        group.add_argument("--m", type=int, default=20, help="cells scored before evolution (M)")
    if name == "guided_ls":
        group.add_argument("--m", type=int, default=1000, help="random cells scored before the first query (M)")
        group.add_argument("--neighbours", type=int, default=24, help="distinct mutations scored around each incumbent")
    if name == "naswot":
        group.add_argument("--n", type=int, default=100, help="cells scored per run")
    if spec.scores:
        group.add_argument("--proxy", default="naswot", help="the training-free score (see scoring.proxies)")
        group.add_argument("--ensemble", default="", help="comma list of proxies: rank cells by their fused ranks")
        group.add_argument(
            "--fusion",
            choices=list(FUSIONS),
            default="logrank" if name == "guided_ls" else "rank",
            help="how the ensemble's ranks combine: sum of ranks, or sum of log(rank/N) (AZ-NAS)",
        )


def search_fields_from_args(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~orchestrator.config.ExperimentConfig` fields of :func:`add_search_options`' flags."""
    fields: dict[str, Any] = {}
    if algorithm(name).evaluates:
        budget = args.budget
        if budget is None and args.max_evaluations is None:
            budget = DEFAULT_BUDGET_S
        fields.update(budget_s=budget, max_evaluations=args.max_evaluations)
    if name in ("rea", "area", "mo_rea"):
        fields.update(population_size=args.population, sample_size=args.sample_size)
    if name == "mo_rea":
        fields.update(objective_cost=args.objective_cost, selection=args.selection)
    if name in ("area", "guided_ls"):
        fields["m"] = args.m
    if name == "guided_ls":
        fields["neighbours"] = args.neighbours
    if name == "naswot":
        fields["n"] = args.n
    if algorithm(name).scores:
        fields["proxy"] = args.proxy
        fields["ensemble"] = tuple(p.strip() for p in args.ensemble.split(",") if p.strip())
        fields["fusion"] = args.fusion
    return fields


def add_constraint_options(parser: argparse.ArgumentParser) -> None:
    """``--max-params``, ``--max-flops``, ``--max-latency-ms`` and ``--latency-device``."""
    group = parser.add_argument_group("constraints (every searcher returns feasible cells only)")
    group.add_argument("--max-params", type=float, default=None, metavar="M", help="at most M million parameters")
    group.add_argument(
        "--max-flops", type=float, default=None, metavar="M", help="at most M million multiply-adds per image"
    )
    group.add_argument("--max-latency-ms", type=float, default=None, metavar="MS", help="at most MS ms per forward")
    group.add_argument(
        "--latency-device",
        default=None,
        choices=list(KNOWN_DEVICES),
        metavar="DEVICE",
        help="a device of the embedded NB201 latency table (e.g. hwnb_pixel3), or 'measured': the forward pass "
        f"timed where the cell is costed. One of: {', '.join(KNOWN_DEVICES)}",
    )


def constraints_from_args(args: argparse.Namespace) -> Constraints | None:
    """The :class:`Constraints` of the parsed arguments for the network of ``args.dataset`` (None when
    no limit or device is given).

    Raises:
        ConstraintError / UnknownNameError: a bad limit or device.
    """
    if all(getattr(args, n) is None for n in ("max_params", "max_flops", "max_latency_ms", "latency_device")):
        return None
    return Constraints(
        max_params_m=args.max_params,
        max_flops_m=args.max_flops,
        max_latency_ms=args.max_latency_ms,
        latency_device=args.latency_device,
        num_classes=NUM_CLASSES[args.dataset],
        input_shape=INPUT_SHAPES[args.dataset],
    )
