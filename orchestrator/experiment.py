"""The one experiment runner: K seeded runs of one algorithm, their history, config and resume.

:func:`run_experiment` owns the run whatever executes it: it validates every input
(:func:`prepare`), writes ``config.json`` (or appends a resume event), loops over the seeds, flushes
and closes on every exit (Ctrl-C included), and returns one :class:`~orchestrator.driver.RunOutcome`
per seed. Each seed is handed to a driver: the simulated-clock driver (benchmark lookups,
:mod:`orchestrator.driver`) or the Tune driver (real training, :mod:`orchestrator.tune_driver`).
The CLIs (``python -m orchestrator.naswot|rea|area|random_search``) only parse arguments into an
:class:`~orchestrator.config.ExperimentConfig` and call it.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cluster.ray_pool import ensure_ray
from orchestrator.algorithms import algorithm, make_searcher
from orchestrator.config import ExperimentConfig
from orchestrator.constraints import ConstraintChecker
from orchestrator.driver import RunOutcome, SimulatedDriver
from orchestrator.history import CONFIG_FILE, FRONT_DIR, FRONT_SCHEMA, HistoryWriter, load_history, read_config
from orchestrator.mo_searchers import FrontSearcher
from orchestrator.oracles import CostedOracle, Oracle, TrainingOracle, open_oracle
from orchestrator.pools import make_pool
from orchestrator.tune_driver import TuneSeedDriver
from scoring.service import ScoringPool, ScoringService
from scoring.store import ScoreStore
from scoring.training_data import load_training_data
from search_spaces import get_space, open_benchmark
from search_spaces.core.atomic import write_json_atomic, write_parquet_atomic
from search_spaces.core.costs import MEASURED_DEVICE, describe_hardware
from search_spaces.core.errors import NaswotError
from search_spaces.core.parts import PartsWriter
from search_spaces.core.status import Status

__all__ = ["ExperimentConfig", "Prepared", "new_run_dir", "prepare", "resume_config", "run_experiment"]


def versions() -> dict[str, str]:
    """The versions of Python, the platform and the libraries a run's numbers depend on."""
    import pyarrow
    import ray
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pyarrow": pyarrow.__version__,
        "ray": ray.__version__,
    }


def new_run_dir(root: str | Path, algorithm: str) -> Path:
    """A fresh run directory path under ``root`` (not created: :func:`run_experiment` creates it)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{algorithm}-{stamp}-{uuid.uuid4().hex[:6]}"


@dataclass
class Prepared:
    """Everything a run opens, checked before anything is created or started (see :func:`prepare`)."""

    space: Any
    oracle: Oracle
    store: ScoreStore | None
    benchmark: Any = None  # the space's Benchmark, or None (score-only, or trained)
    feasible: ConstraintChecker | None = None  # the run's constraints on this space (None: no limits)


def prepare(config: ExperimentConfig) -> Prepared:
    """Open and check every input of ``config`` without side effects: the space, the benchmark (a
    lookup run), the training images (a Tune run), the scoring images (a user's ``data_dir`` is read
    and the minibatch drawn), and the score store's format.

    Raises:
        NaswotError (BenchmarkDataError, ScoreStoreError, UnknownNameError, ...) or ValueError: with
            one line saying what is wrong. Nothing is created on disk and Ray is not started.
    """
    spec = algorithm(config.algorithm)
    space = get_space(config.space, **dict(config.space_options))
    benchmark = None
    oracle: Oracle
    if config.oracle == "tune":
        assert config.tune is not None
        load_training_data(config.tune.train_settings(config.space, config.dataset, config.data_dir).data)
        oracle = TrainingOracle(config.dataset, config.tune.epochs)
    else:
        benchmark = open_benchmark(space, config.benchmark_path)
        space, oracle, note = open_oracle(
            space, benchmark, evaluates=spec.evaluates, timed=config.budget_s is not None, fitness=config.fitness
        )
        if note:
            print(note, file=sys.stderr)
    feasible = None
    if config.constraints is not None:
        feasible = config.constraints.bind(space)
        if config.constraints.active and config.constraints.latency_device != MEASURED_DEVICE:
            feasible.check_satisfiable()  # InfeasibleError names the smallest value the space offers
        # a measured latency is checked by run_experiment, once it knows where latencies are timed
        oracle = CostedOracle(oracle, space, feasible.costs, feasible.feasible)
    store = None
    if spec.scores:
        scorer = config.scorer_config()
        for proxy in config.proxies:
            scorer.images_hash(proxy)  # reads the images now: a bad --data-dir fails here
        if config.store:
            store = ScoreStore(config.store, shipped=config.shipped_scores)
    return Prepared(space, oracle, store, benchmark, feasible)


def _budget_record(config: ExperimentConfig, oracle: Oracle) -> dict[str, Any]:
    """How the run's budget is charged, for ``config.json`` (what a reader needs to compare runs)."""
    if config.oracle == "tune":
        clock = "real seconds of training (Tune's time_budget_s)"
    elif oracle.cost_name:
        clock = f"simulated seconds: each evaluation charges the benchmark's {oracle.cost_name}, each score its measured time"
    else:
        clock = (
            "none: the benchmark records no training time; evaluations are counted, scores charge their measured time"
        )
    return {"seconds": config.budget_s, "max_evaluations": config.max_evaluations, "clock": clock}


def _benchmark_record(prepared: Prepared) -> dict[str, Any]:
    """The benchmark part of ``config.json``: its name, the metric specs (the history's metric
    columns), fitness and cost."""
    benchmark, oracle = prepared.benchmark, prepared.oracle
    cells = benchmark.cells() if benchmark is not None else None
    return {
        "name": None if benchmark is None else benchmark.name,
        "space": None if benchmark is None else benchmark.space_name,
        "metrics": [dataclasses.asdict(m) for m in oracle.metric_specs],
        "fitness": oracle.fitness_name or None,
        "cost": oracle.cost_name,
        "sample_cells": None if cells is None else len(cells),
    }


def _config_record(
    config: ExperimentConfig, run_dir: Path, prepared: Prepared, latency_hardware: str = ""
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "config": config.to_json(),
        "versions": versions(),
        "run_id": run_dir.name,
        "seeds": [config.seed + r for r in range(config.runs)],
        "written_unix": time.time(),
        "resumes": [],
        "benchmark": _benchmark_record(prepared),
        "budget": _budget_record(config, prepared.oracle),
    }
    if config.constraints is not None and config.constraints.latency_device == MEASURED_DEVICE:
        import torch

        # measured latencies are timed by the scoring pool when the run has one, else in this process;
        # each cell's own hardware is in LATENCY_FILE
        record["latency_measured_on"] = latency_hardware or describe_hardware(torch.device("cpu"))
    if config.tune is not None:
        record["train_settings"] = config.tune.train_settings(config.space, config.dataset, config.data_dir).to_dict()
    return record


LATENCY_FILE = "latency.parquet"
"""Per run directory: every measured latency (``arch_key``, ``latency_ms``, ``hardware``): join it to
the history on ``arch_key``."""


def _measure_latency_on(pool: ScoringPool, config: ExperimentConfig, prepared: Prepared) -> None:
    """Make the run's ``"measured"`` latencies timed by ``pool`` (its actors, on their own hardware),
    through the score store like any score (a stored latency from other hardware is measured again)."""
    from scoring.latency import LATENCY_PROXY

    assert prepared.feasible is not None
    service = ScoringService(config.scorer_config(), pool, prepared.store, prepared.space, (LATENCY_PROXY,))
    space = prepared.space

    def measure(arch) -> tuple[float, str]:
        ((record, _cached),) = service.score_many([(space.format(arch), config.init_seed)])[0]
        ok = record.status is Status.OK and math.isfinite(record.score)
        return (record.score if ok else math.nan), record.hardware or record.device

    prepared.feasible.measure_with(measure)


def write_latencies(checker: ConstraintChecker, run_dir: Path) -> Path:
    """Write ``run_dir/LATENCY_FILE`` from ``checker.measured`` (atomically; a resumed run's file is
    replaced by one with every latency it measured); returns its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = run_dir / LATENCY_FILE
    rows: dict[str, tuple[float, str]] = {}
    if path.is_file():  # a resumed run keeps what it measured before
        old = pq.read_table(path).to_pydict()
        rows = {k: (ms, hw) for k, ms, hw in zip(old["arch_key"], old["latency_ms"], old["hardware"])}
    rows.update(checker.measured)
    keys = sorted(rows)
    table = pa.table(
        {
            "arch_key": keys,
            "latency_ms": [rows[k][0] for k in keys],
            "hardware": [rows[k][1] for k in keys],
        }
    )
    write_parquet_atomic(table, path)
    return path


def record_resume(run_dir: Path, argv: list[str] | None = None) -> None:
    """Append a resume event (time, library versions, command line) to ``config.json``; the rest of
    the record stays as the run began."""
    data = read_config(run_dir)
    data.setdefault("resumes", []).append({"unix": time.time(), "versions": versions(), "argv": list(argv or [])})
    write_json_atomic(data, run_dir / CONFIG_FILE)


class SeedDriver(Protocol):
    """Runs one seed of a run to its end; the runner calls it once per seed."""

    def run_seed(self, seed: int) -> RunOutcome: ...


class SimulatedSeedDriver:
    """Each seed on the simulated clock (:class:`~orchestrator.driver.SimulatedDriver`), replaying the
    history rows of a resumed run."""

    def __init__(
        self,
        config: ExperimentConfig,
        prepared: Prepared,
        scoring: ScoringService | None,
        writer: HistoryWriter,
        run_id: str,
        replay: dict[int, dict[int, dict]],
    ) -> None:
        self.config, self.prepared, self.scoring, self.writer = config, prepared, scoring, writer
        self.run_id, self.replay = run_id, replay

    def run_seed(self, seed: int) -> RunOutcome:
        config, space = self.config, self.prepared.space
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        searcher = make_searcher(
            config.algorithm,
            space,
            rng,
            config.search_params(),
            self.prepared.feasible if config.constraints is not None and config.constraints.active else None,
        )
        outcome = SimulatedDriver(
            searcher,
            oracle=self.prepared.oracle,
            scoring=self.scoring,
            writer=self.writer,
            run_id=self.run_id,
            algorithm=config.algorithm,
            seed=seed,
            arch_key=lambda a: space.key(space.parse(a)),
            workers=config.sim_workers,
            budget_s=config.budget_s,
            max_evaluations=config.max_evaluations,
            init_seed=config.init_seed,
            replay=self.replay.get(seed),
            failure_cost_s=config.failure_cost_s,
            max_consecutive_failures=config.max_consecutive_failures,
        ).run()
        if isinstance(searcher, FrontSearcher):
            self._write_front(seed, searcher)
        return outcome

    def _write_front(self, seed: int, searcher: FrontSearcher) -> None:
        """``RUN_DIR/front.parquet`` rows of the front ``searcher`` ended seed ``seed`` with."""
        cost_name = self.config.objective_cost
        with PartsWriter(self.writer.directory.parent / FRONT_DIR, FRONT_SCHEMA) as front:
            for member in searcher.front():
                front.append(
                    {
                        "run_id": self.run_id,
                        "seed": seed,
                        "trial_id": member.trial.trial_id,
                        "arch": member.trial.arch,
                        "fitness": member.fitness,
                        "cost": member.cost,
                        "cost_name": cost_name,
                    }
                )


def run_experiment(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    repair: bool = False,
    pool: ScoringPool | None = None,
    progress: bool = True,
    on_run: Callable[[RunOutcome], None] | None = None,
    prepared: Prepared | None = None,
    argv: list[str] | None = None,
    trainable: Callable[[dict[str, Any]], None] | None = None,
    extra_config: dict[str, Any] | None = None,
    experiment_checkpoint_s: float = 1.0,
) -> list[RunOutcome]:
    """Run (or continue) ``config.runs`` seeded searches, appending to ``run_dir``'s history.

    A new run writes ``config.json`` (configuration, library versions, seeds, metric specs, how the
    budget is charged). With ``resume``, the run continues where it stopped, with the same answers
    as an uninterrupted run (the simulated driver replays the history; the Tune driver restores its
    experiment: see :mod:`orchestrator.tune_driver` for why), and a resume event is appended to
    ``config.json``; ``repair`` moves corrupt history parts aside first. The history is flushed and
    the pool closed on every exit, Ctrl-C included. ``pool`` replaces the scoring pool of a
    simulated run (it is not closed); ``trainable``, ``extra_config`` and ``experiment_checkpoint_s``
    go to the Tune driver.

    Raises:
        ResumeMismatchError: the history was written by another configuration.
        HistoryCorruptError: a history part is corrupt and ``repair`` is off.
        TooManyFailuresError: a run had ``config.max_consecutive_failures`` failures in a row.
    """
    prepared = prepared or prepare(config)
    spec = algorithm(config.algorithm)
    run_dir = Path(run_dir).absolute()
    replay: dict[int, dict[int, dict]] = {}
    if resume:
        frame = load_history(run_dir, repair=repair)  # a corrupt history fails before Ray starts
        for row in frame.to_dict("records"):
            replay.setdefault(int(row["seed"]), {})[int(row["trial_id"])] = row
    simulated = config.oracle == "lookup"
    measured = config.constraints is not None and config.constraints.latency_device == MEASURED_DEVICE
    own_pool = simulated and pool is None and (spec.scores or measured)
    if own_pool:
        pool = make_pool(config.scorer_config(), config.pool_options())  # before the run directory exists
    if measured and prepared.feasible is not None:
        if simulated and pool is not None:
            _measure_latency_on(pool, config, prepared)
        if config.constraints is not None and config.constraints.active:
            try:
                prepared.feasible.check_satisfiable()  # timed where the search will time them
            except BaseException:
                if own_pool and pool is not None:
                    pool.close()
                raise
    if resume:
        record_resume(run_dir, argv)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        latency_hardware = getattr(pool, "hardware", "") if simulated and measured else ""
        write_json_atomic(_config_record(config, run_dir, prepared, latency_hardware), run_dir / CONFIG_FILE)
    scoring = None
    if simulated and pool is not None and spec.scores:
        # a stored score measured on other hardware is re-measured only where its seconds are charged
        scoring = ScoringService(
            config.scorer_config(),
            pool,
            prepared.store,
            prepared.space,
            config.proxies,
            check_hardware=config.budget_s is not None,
        )
    started_ray = False
    outcomes: list[RunOutcome] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.runs, desc=f"{config.algorithm} runs", unit="run", file=sys.stderr)
    try:
        writer = HistoryWriter(run_dir, metric_names=prepared.oracle.metric_names)
        with writer:
            driver: SeedDriver
            if simulated:
                driver = SimulatedSeedDriver(config, prepared, scoring, writer, run_dir.name, replay)
            else:
                started_ray = _ensure_ray(config.address)
                driver = TuneSeedDriver(
                    config,
                    prepared.space,
                    prepared.oracle,
                    run_dir,
                    resume=resume,
                    store=prepared.store,
                    trainable=trainable,
                    extra_config=extra_config,
                    experiment_checkpoint_s=experiment_checkpoint_s,
                    progress=progress,
                )
            for r in range(config.runs):
                outcome = driver.run_seed(config.seed + r)
                outcomes.append(outcome)
                if on_run is not None:
                    on_run(outcome)
                if bar is not None:
                    bar.update(1)
                if scoring is not None and r % 10 == 9:
                    scoring.flush()
    finally:
        if bar is not None:
            bar.close()
        if scoring is not None:
            scoring.flush()
            if scoring.remeasured:
                print(
                    f"note: {scoring.remeasured} stored scores were measured on other hardware than this run's "
                    f"({getattr(pool, 'hardware', '?')}); they were scored afresh so that their time is this run's",
                    file=sys.stderr,
                )
        if prepared.feasible is not None and prepared.feasible.measured:
            write_latencies(prepared.feasible, run_dir)
        if own_pool and pool is not None:
            pool.close()
        if started_ray:
            import ray

            ray.shutdown()
    return outcomes


def _ensure_ray(address: str | None) -> bool:
    """Start (or join) Ray for a Tune run; True when this call started it (the runner shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    ensure_ray(address)
    return True


def resume_config(run_dir: str | Path) -> ExperimentConfig:
    """The configuration a run directory was started with.

    Raises:
        NaswotError: ``config.json`` does not hold a naswot configuration.
        FileNotFoundError: ``run_dir`` is not a run directory.
    """
    data = read_config(run_dir)
    try:
        return ExperimentConfig.from_json(data["config"])
    except (KeyError, TypeError) as exc:
        raise NaswotError(f"{str(run_dir)!r}/{CONFIG_FILE} is not a naswot config: {exc}") from exc
