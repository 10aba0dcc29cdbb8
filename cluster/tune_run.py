"""Real training: a search driven by Ray Tune (``--oracle tune``).

For each seed, the run's searcher (Random, REA or AREA) sits behind
:class:`~cluster.tune_searcher.AskTellAdapter`; AREA's scoring phase runs first through the
project's scoring path (score store, then the scoring pool), then a ``Tuner`` trains every cell the
searcher asks for with :func:`cluster.trainable.train_cell` (``max_concurrent_trials`` at a time,
``--gpus-per-trial`` GPUs each, optionally early-stopped by ASHA).

Run directory layout::

    RUN_DIR/config.json         the resolved configuration (``oracle: tune``, training settings)
    RUN_DIR/history.parquet/    one row per scored cell and per trial (kind ``evaluate``)
    RUN_DIR/curves.parquet/     one row per trained epoch (plus epoch 0: the score at initialisation)
    RUN_DIR/tune/seed-S/        Tune's experiment (trial checkpoints, searcher state)
    RUN_DIR/tune/seed-S.done    written when seed S finished

History rows of trials are written by a Tune ``Callback``: fitness = the final validation accuracy
(also in the ``<dataset>_valid`` column; test columns NaN), ``fitness_name`` ``<dataset>_valid_<E>ep``,
cost = the trial's real training seconds, status ``failed`` and Tune's error message for a trial that
errored after its retries. ``sim_start_s``/``sim_end_s`` are real seconds since the seed's search
began (a resumed run continues from the last recorded end). Resume (``resume=True``) continues each
unfinished seed through ``Tuner.restore``: finished trials are not trained again, running ones
continue from their last checkpoint, and the searcher's state comes back from its saved log.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cluster.trainable import METRIC, TrainSettings, train_cell
from orchestrator.history import CONFIG_FILE, HistoryWriter, history_row, load_history
from scoring.training_data import DataSpec
from search_spaces.core.atomic import write_json_atomic, write_parquet_atomic
from search_spaces.core.errors import NaswotError
from search_spaces.core.records import Kind, Result, Trial

if TYPE_CHECKING:  # pragma: no cover
    from cluster.tune_searcher import AskTellAdapter

CURVES_DIR = "curves.parquet"
TUNE_DIR = "tune"
SCHEDULERS = ("none", "asha")
TUNE_ALGORITHMS = ("random", "rea", "area")

CURVES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("seed", pa.int64()),
        ("trial_id", pa.int64()),  # the searcher's trial id (as in the history)
        ("tune_trial", pa.string()),  # Tune's trial id
        ("arch", pa.string()),
        ("epoch", pa.int64()),  # 0: the untrained network (score only)
        ("valid_acc", pa.float64()),
        ("valid_loss", pa.float64()),
        ("train_loss", pa.float64()),
        ("train_acc", pa.float64()),
        ("score", pa.float64()),  # NASWOT score of the network at this epoch
        ("epoch_s", pa.float64()),  # seconds of this epoch's training and validation
        ("score_s", pa.float64()),
        ("seconds", pa.float64()),  # the trial's training seconds so far (Tune's time_total_s)
        ("attempt", pa.string()),  # one id per start of the training function
        ("resumed_from", pa.int64()),  # the epoch this attempt started after
        ("device", pa.string()),
    ]
)


@dataclass(frozen=True)
class TuneOptions:
    """The real-training part of a run; validated on construction (``ValueError`` / ``UnknownNameError``).

    ``trials``: evaluations per seed (None: until ``budget_s`` ends). ``concurrent``: trials at a
    time. ``images``: how many embedded (or ``images_npz``) images to use, half for training, half
    for validation (None: all). ``channels``/``cells_per_stage`` size the trained network.
    """

    epochs: int = 12
    trials: int | None = None
    concurrent: int = 1
    gpus_per_trial: float = 0.0
    cpus_per_trial: float = 1.0
    scheduler: str = "none"
    reduction_factor: int = 3
    max_failures: int = 2
    images: int | None = None
    images_npz: str | None = None
    channels: int = 16
    cells_per_stage: int = 5
    batch_size: int = 256
    score_batch: int = 64

    def __post_init__(self) -> None:
        from search_spaces import UnknownNameError

        if self.scheduler not in SCHEDULERS:
            raise UnknownNameError("scheduler", self.scheduler, SCHEDULERS)
        if self.epochs < 1 or self.concurrent < 1 or self.max_failures < 0 or self.reduction_factor < 2:
            raise ValueError(
                f"need epochs >= 1, concurrent >= 1, max_failures >= 0, reduction_factor >= 2; got {self.epochs}, "
                f"{self.concurrent}, {self.max_failures}, {self.reduction_factor}"
            )
        if self.trials is not None and self.trials < 1:
            raise ValueError(f"trials must be at least 1, got {self.trials}")
        if self.gpus_per_trial < 0 or self.cpus_per_trial < 0:
            raise ValueError("gpus_per_trial and cpus_per_trial must not be negative")

    def train_settings(self, space: str, dataset: str, data_dir: str | None, seed: int = 0) -> TrainSettings:
        """The :class:`TrainSettings` every trial of the run gets."""
        if data_dir is not None:
            data = DataSpec(dataset, "cifar", data_dir, None, seed)
        elif self.images_npz is not None:
            data = DataSpec(dataset, "npz", self.images_npz, self.images, seed)
        else:
            data = DataSpec(dataset, "embedded", None, self.images, seed)
        return TrainSettings(
            space=space,
            space_options={"channels": self.channels, "cells_per_stage": self.cells_per_stage},
            data=data,
            epochs=self.epochs,
            batch_size=self.batch_size,
            score_batch=self.score_batch,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TuneOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _row(**fields: Any) -> dict[str, Any]:
    """``history_row`` with the fields its current signature takes (``arch_key`` or ``arch_index``)."""
    params = inspect.signature(history_row).parameters
    if "arch_key" not in params and "arch_index" in params:
        fields["arch_index"] = int(fields["arch_key"]) if str(fields["arch_key"]).isdigit() else -1
    return history_row(**{k: v for k, v in fields.items() if k in params})


def _error_message(trial) -> str:
    """The last line of the trial's error (the exception), or a generic text."""
    text = ""
    try:
        text = str(trial.get_error() or "")
    except (OSError, RuntimeError, ValueError):  # the error file is unreadable: keep the generic text
        text = ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the training trial errored"


class PartsWriter:
    """Appends rows with ``schema`` as atomic Parquet parts in ``directory`` (a flush per ``flush()``)."""

    def __init__(self, directory: Path, schema: pa.Schema) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self._rows: list[dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        self._rows.append(row)

    def flush(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=self.schema)
        write_parquet_atomic(table, self.directory / f"part-{time.time_ns():020d}-{os.getpid()}.parquet")
        self._rows.clear()


def load_curves(run_dir: str | Path):
    """``RUN_DIR/curves.parquet`` as a pandas DataFrame sorted by (seed, trial_id, epoch).

    Raises:
        FileNotFoundError: the run has no curves.
    """
    import pyarrow.parquet as pq

    directory = Path(run_dir) / CURVES_DIR
    parts = sorted(directory.glob("part-*.parquet")) if directory.is_dir() else []
    if not parts:
        raise FileNotFoundError(f"no curves at {str(directory)!r}")
    frame = pa.concat_tables(pq.read_table(p, schema=CURVES_SCHEMA) for p in parts).to_pandas()
    return frame.sort_values(["seed", "trial_id", "epoch", "attempt"], kind="stable").reset_index(drop=True)


def history_callback(
    adapter: AskTellAdapter,
    run_dir: Path,
    *,
    run_id: str,
    algorithm: str,
    seed: int,
    dataset: str,
    fitness_name: str,
    arch_key: Callable[[str], str],
    clock_offset_s: float,
):
    """A Tune ``Callback`` that writes each finished trial to the history and each epoch to the curves.

    It reads the searcher's tell of the trial from ``adapter`` (Tune calls the search algorithm's
    ``on_trial_complete`` before the callbacks), so ``tell_order`` and ``incumbent`` are the
    searcher's. Every row is flushed at once: a SIGKILL loses nothing already reported.
    """
    from ray.tune import Callback

    class _HistoryCallback(Callback):
        def __init__(self) -> None:
            self.started = time.time()

        def setup(self, **info) -> None:
            self.started = time.time()
            self.history = HistoryWriter(run_dir, flush_every=1)
            self.curves = PartsWriter(run_dir / CURVES_DIR, CURVES_SCHEMA)

        def _clock(self) -> float:
            return clock_offset_s + time.time() - self.started

        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            if result.get("replayed"):
                return  # restored from its final checkpoint: nothing was trained
            base = {
                "run_id": run_id,
                "seed": seed,
                "trial_id": int(trial.config.get("naswot_trial", -1)),
                "tune_trial": trial.trial_id,
                "arch": str(trial.config.get("arch", "")),
                "attempt": str(result.get("attempt", "")),
                "resumed_from": int(result.get("resumed_from", 0)),
                "device": str(result.get("device", "")),
            }
            if int(result.get("epoch", 0)) == 1 and int(result.get("resumed_from", 0)) == 0:
                self.curves.append({**base, "epoch": 0, "score": float(result.get("score_init", math.nan))})
            self.curves.append(
                {
                    **base,
                    "epoch": int(result.get("epoch", 0)),
                    **{k: float(result.get(k, math.nan)) for k in ("valid_loss", "train_loss", "train_acc", "score")},
                    "valid_acc": float(result.get(METRIC, math.nan)),
                    "epoch_s": float(result.get("epoch_s", math.nan)),
                    "score_s": float(result.get("score_s", math.nan)),
                    "seconds": float(result.get("time_total_s", math.nan)),
                }
            )
            self.curves.flush()

        def _write(self, trial, error: str | None) -> None:
            told = adapter.told.pop(trial.trial_id, None)
            if told is None:
                return
            ours, result, tell_order, incumbent = told
            metrics = dict(result.metrics)
            if result.ok:
                metrics[f"{dataset}_valid"] = result.fitness
            result = dataclasses.replace(
                result,
                metrics=metrics,
                error=error if error is not None else result.error,
                cost_s=float((trial.last_result or {}).get("time_total_s", 0.0) or 0.0),
            )
            end = self._clock()
            self.history.append(
                _row(
                    run_id=run_id,
                    algorithm=algorithm,
                    seed=seed,
                    tell_order=tell_order,
                    trial=ours,
                    result=result,
                    arch_key=arch_key(ours.arch),
                    fitness_name=fitness_name,
                    sim_start_s=max(0.0, end - result.cost_s),
                    sim_end_s=end,
                    wall_s=end,
                    incumbent=incumbent,
                )
            )
            self.history.flush()

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self._write(trial, None)

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self._write(trial, _error_message(trial))

        def on_experiment_end(self, trials, **info) -> None:
            self.history.flush()
            self.curves.flush()

    return _HistoryCallback()


def trial_dirname(trial) -> str:
    """Short trial directory names (Tune's default embeds the whole config)."""
    return f"trial-{trial.trial_id}"


def _make_searcher(algorithm: str, space_name: str, params: dict[str, Any], rng: np.random.Generator):
    """``factory(rng)`` of the adapter (module level, so Tune can pickle it)."""
    from orchestrator.searchers import AREA, RandomSearch, RegularizedEvolution
    from search_spaces import get_space

    space = get_space(space_name)
    if algorithm == "random":
        return RandomSearch(space, rng)
    if algorithm == "rea":
        return RegularizedEvolution(space, rng, params["population_size"], params["sample_size"])
    return AREA(
        space, rng, params["population_size"], params["sample_size"], m=params["m"], ensemble=params["ensemble"]
    )


@contextmanager
def _experiment_checkpoint_period(seconds: float):
    """Tune reads ``TUNE_GLOBAL_CHECKPOINT_S`` when its controller starts; set it for this run only."""
    previous = os.environ.get("TUNE_GLOBAL_CHECKPOINT_S")
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = str(seconds)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TUNE_GLOBAL_CHECKPOINT_S", None)
        else:
            os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = previous


class _ScoreRows:
    """``score_fn`` and ``on_told`` of a fresh adapter: scores through the scoring service, writes rows."""

    def __init__(self, service, space, writer: HistoryWriter, adapter_ref: list, fields: dict[str, Any]) -> None:
        self.service, self.space, self.writer, self.adapter_ref, self.fields = (
            service,
            space,
            writer,
            adapter_ref,
            fields,
        )
        self.clock = 0.0

    def score(self, trials: Sequence[Trial]) -> list[Result]:
        from orchestrator.driver import combine_scores

        per_trial = self.service.score_many([(t.arch, self.fields["init_seed"]) for t in trials])
        no_metrics = type("NoMetrics", (), {"metrics": staticmethod(lambda arch: {})})()
        return [combine_scores(per_proxy, no_metrics, t.arch) for t, per_proxy in zip(trials, per_trial)]

    def told(self, trial: Trial, result: Result) -> None:
        if trial.kind is not Kind.SCORE:
            return
        adapter = self.adapter_ref[0]
        start, self.clock = self.clock, self.clock + result.cost_s
        self.writer.append(
            _row(
                run_id=self.fields["run_id"],
                algorithm=self.fields["algorithm"],
                seed=self.fields["seed"],
                tell_order=adapter.tell_count - 1,
                trial=trial,
                result=result,
                arch_key=self.space.key(self.space.parse(trial.arch)),
                fitness_name=self.fields["fitness_name"],
                sim_start_s=start,
                sim_end_s=self.clock,
                wall_s=self.clock,
                incumbent=adapter.incumbent(),
            )
        )


def _ensure_ray(address: str | None) -> bool:
    """Start or join Ray; True when this call started it (so the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    from cluster.ray_pool import ensure_ray

    ensure_ray(address)
    return True


def run_tune_experiment(
    config,
    options: TuneOptions,
    run_dir: str | Path,
    *,
    resume: bool = False,
    trainable: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    experiment_checkpoint_s: float = 1.0,
    extra_config: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or continue) ``config.runs`` seeded searches with real training; returns one summary per seed.

    ``config`` is an :class:`orchestrator.experiment.ExperimentConfig` (algorithm random, rea or
    area; ``budget_s`` = real seconds per seed, Tune's ``time_budget_s``). ``trainable`` replaces
    :func:`~cluster.trainable.train_cell` (tests inject faults this way); ``extra_config`` is added to
    every trial's config. ``experiment_checkpoint_s``: how often Tune saves its experiment state. Ray is started (or joined at
    ``config.address``) if needed and shut down at the end if this call started it.

    Raises:
        NaswotError / UnknownNameError: an algorithm without a Tune path (naswot) or bad settings.
        FileNotFoundError: ``resume`` on a directory that is not a run.
    """
    from ray import tune

    from orchestrator.experiment import _versions, make_pool
    from orchestrator.scoring_service import ScoringService
    from scoring.store import ScoreStore
    from scoring.training_data import load_training_data
    from search_spaces import get_space

    if config.algorithm not in TUNE_ALGORITHMS:
        raise NaswotError(f"--oracle tune runs {', '.join(TUNE_ALGORITHMS)}, not {config.algorithm}")
    run_dir = Path(run_dir).absolute()
    settings = options.train_settings(config.space, config.dataset, config.data_dir)
    # validate, then act: the training images (a user's --data-dir or --images-npz) are read, and
    # AREA's scoring inputs checked, before the run directory exists or Ray starts
    load_training_data(settings.data)
    if config.algorithm == "area" and not resume:
        from orchestrator.experiment import prepare

        prepare(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings_dict = settings.to_dict()
    space = get_space(config.space)
    fitness_name = f"{config.dataset}_valid_{options.epochs}ep"
    if not resume:
        write_json_atomic(
            {
                "config": config.to_json(),
                "oracle": "tune",
                "tune": options.to_json(),
                "train_settings": settings_dict,
                "versions": _versions(),
                "run_id": run_dir.name,
                "seeds": [config.seed + r for r in range(config.runs)],
                "written_unix": time.time(),
            },
            run_dir / CONFIG_FILE,
        )
    train = trainable or train_cell
    resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    wrapped = tune.with_resources(train, resources)
    params = {
        "population_size": config.population_size,
        "sample_size": config.sample_size,
        "m": config.m,
        "ensemble": tuple(config.ensemble),
    }
    started_ray = _ensure_ray(config.address)
    summaries: list[dict[str, Any]] = []
    try:
        for r in range(config.runs):
            seed = config.seed + r
            done = run_dir / TUNE_DIR / f"seed-{seed}.done"
            if done.exists():
                summaries.append(json.loads(done.read_text()))
                continue
            exp_dir = run_dir / TUNE_DIR / f"seed-{seed}"
            began = time.time()
            offset = 0.0
            if resume and (run_dir / "history.parquet").is_dir():
                frame = load_history(run_dir)
                frame = frame[frame["seed"] == seed]
                offset = float(frame["sim_end_s"].max()) if len(frame) else 0.0
            with _experiment_checkpoint_period(experiment_checkpoint_s):
                if resume and tune.Tuner.can_restore(str(exp_dir)):
                    print(f"seed {seed}: restoring the Tune experiment {exp_dir}", file=sys.stderr)
                    tuner = tune.Tuner.restore(str(exp_dir), trainable=wrapped, resume_errored=False)
                else:
                    tuner = _fresh_tuner(
                        config,
                        options,
                        run_dir,
                        seed,
                        {"settings": settings_dict, **(extra_config or {})},
                        params,
                        space,
                        fitness_name,
                        wrapped,
                        offset,
                        make_pool,
                        ScoringService,
                        ScoreStore,
                        progress,
                    )
                grid = tuner.fit()
            frame = load_history(run_dir)
            frame = frame[(frame["seed"] == seed) & (frame["kind"] == "evaluate")]
            ok = frame[frame["status"] == "ok"]
            best = ok.loc[ok["fitness"].idxmax()] if len(ok) else None
            summary = {
                "seed": seed,
                "trials": int(len(grid)),
                "evaluated": int(len(frame)),
                "failed": int((frame["status"] != "ok").sum()),
                "best_arch": None if best is None else str(best["arch"]),
                "best_fitness": None if best is None else float(best["fitness"]),
                "seconds": time.time() - began,
            }
            write_json_atomic(summary, done)
            summaries.append(summary)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return summaries


def _fresh_tuner(
    config, options, run_dir, seed, base_config, params, space, fitness_name, wrapped, offset,
    make_pool, ScoringService, ScoreStore, progress,
):  # fmt: skip
    """A new Tuner for ``seed``: scoring phase first (AREA), then the Tune experiment."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from cluster.tune_searcher import AskTellAdapter

    adapter_ref: list[AskTellAdapter] = []
    writer = HistoryWriter(run_dir, flush_every=10_000)
    fields = {
        "run_id": run_dir.name,
        "algorithm": config.algorithm,
        "seed": seed,
        "fitness_name": fitness_name,
        "init_seed": config.init_seed,
    }
    needs_scores = config.algorithm == "area"
    pool = make_pool(config) if needs_scores else None
    store = ScoreStore(config.store) if needs_scores and config.store else None
    service = ScoringService(config.scorer_config(), pool, store, space, config.proxies) if pool is not None else None
    rows = _ScoreRows(service, space, writer, adapter_ref, fields)
    rows.clock = offset
    adapter = AskTellAdapter(
        partial(_make_searcher, config.algorithm, config.space, params),
        seed,
        base_config,
        score_fn=rows.score if service is not None else None,
        on_told=rows.told,
        max_evaluations=options.trials,
    )
    adapter_ref.append(adapter)
    try:
        scored = adapter.prepare()
        writer.flush()
    finally:
        if service is not None:
            service.flush()
        if pool is not None:
            pool.close()
    if scored and progress:
        print(f"seed {seed}: scored {scored} cells, training starts", file=sys.stderr)
    adapter.score_fn, adapter.on_told = None, None
    callback = history_callback(
        adapter,
        run_dir,
        run_id=run_dir.name,
        algorithm=config.algorithm,
        seed=seed,
        dataset=config.dataset,
        fitness_name=fitness_name,
        arch_key=lambda arch: str(space.key(space.parse(arch))),
        clock_offset_s=rows.clock,
    )
    scheduler = None
    if options.scheduler == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=options.epochs,
            grace_period=1,
            reduction_factor=options.reduction_factor,
        )
    return tune.Tuner(
        wrapped,
        tune_config=tune.TuneConfig(
            search_alg=adapter,
            scheduler=scheduler,
            metric=METRIC,
            mode="max",
            num_samples=-1 if options.trials is None else options.trials,
            max_concurrent_trials=options.concurrent,
            time_budget_s=config.budget_s,
            reuse_actors=True,  # a new trial in a warm worker skips importing torch (seconds on a small CPU)
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            storage_path=str(run_dir / TUNE_DIR),
            name=f"seed-{seed}",
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[callback],
            verbose=1 if progress else 0,
        ),
    )


def add_tune_arguments(parser) -> None:
    """The ``--oracle tune`` options of ``python -m orchestrator.rea|area|random_search``."""
    group = parser.add_argument_group("real training (--oracle tune)")
    group.add_argument(
        "--oracle",
        choices=["lookup", "tune"],
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


def tune_extra(args) -> dict[str, Any]:
    """``ExperimentConfig.extra`` entries of the parsed ``--oracle`` options ({} for the lookup oracle).

    Raises:
        ValueError / UnknownNameError: invalid training options.
    """
    if getattr(args, "oracle", "lookup") != "tune":
        return {}
    options = TuneOptions(
        epochs=args.epochs,
        trials=args.trials,
        concurrent=args.concurrent_trials or args.workers,
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
    return {"oracle": "tune", "tune": options.to_json()}


def main_tune(config, run_dir: str | Path, *, resume: bool = False, progress: bool = True) -> int:
    """The CLI's ``--oracle tune`` branch: run, then print the summary table; exit code 0 or 130."""
    from orchestrator.report import format_table, summarise

    options = TuneOptions.from_json(config.extra.get("tune", {}))
    # Checkpoints every epoch with num_to_keep=1 force a Tune state snapshot each time; Tune then warns
    # once per snapshot, which buries the output of a CLI run. The user's own setting wins.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    try:
        run_tune_experiment(config, options, run_dir, resume=resume, progress=progress)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the history so far is saved; continue with\n"
            f"  python -m orchestrator.{config.algorithm} --resume {run_dir}",
            file=sys.stderr,
        )
        return 130
    frame = load_history(run_dir)
    print(format_table(summarise(frame, config.budget_s)))
    print(f"\nhistory: {Path(run_dir) / 'history.parquet'}  (pandas.read_parquet)")
    print(f"curves:  {Path(run_dir) / CURVES_DIR}  (pandas.read_parquet)")
    return 0
