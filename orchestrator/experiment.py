"""Experiments: K seeded runs of one algorithm, their history, config and resume.

The CLIs (``python -m orchestrator.naswot|rea|area|random_search``) only parse arguments into an
:class:`ExperimentConfig` and call :func:`run_experiment`.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.driver import RunOutcome, SimulatedDriver
from orchestrator.history import CONFIG_FILE, HistoryWriter, load_history, read_config
from orchestrator.oracles import LookupOracle, NoBenchmarkOracle, open_oracle
from orchestrator.scoring_service import InlinePool, ScoringService
from orchestrator.searchers import AREA, NASWOTSearch, RandomSearch, RegularizedEvolution
from scoring.scorer import ScorerConfig
from scoring.store import DEFAULT_STORE, ScoreStore
from search_spaces import UnknownNameError, get_space, open_benchmark
from search_spaces.core.atomic import write_json_atomic
from search_spaces.core.errors import NaswotError

ALGORITHMS = ("naswot", "random", "rea", "area")
NEEDS_SCORES = {"naswot", "area"}
NEEDS_BUDGET = {"random", "rea", "area"}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run depends on; validated on construction (``ValueError`` / ``UnknownNameError``)."""

    algorithm: str
    runs: int = 1
    seed: int = 0
    workers: int = 1  # Ray scoring actors (real parallelism; the answer does not depend on it)
    sim_workers: int = 1  # virtual workers of the simulated clock (1: the papers' time model)
    budget_s: float | None = None
    n: int = 100  # NASWOT: cells scored
    m: int = 20  # AREA: cells scored before evolution
    population_size: int = 10
    sample_size: int = 3
    space: str = "nb201"
    dataset: str = "cifar10"  # images for scoring
    batch_size: int = 128
    batch_seed: int = 0
    init_seed: int = 0
    fitness: tuple[str, str] = ("cifar10", "valid_12ep")
    benchmark_path: str | None = None  # a NATS-Bench topology directory; None = embedded table
    data_dir: str | None = None  # a CIFAR python-batches directory; None = embedded images
    store: str | None = str(DEFAULT_STORE)  # shared score store; None disables it
    executor: str = "ray"  # "ray" (actors) or "inline" (this process)
    address: str | None = None  # an existing Ray cluster
    gpus_per_worker: float | None = None  # cuda: default 1 (fractions pack actors on a GPU); cpu: 0
    cpus_per_worker: float | None = None  # cuda: default 1; cpu: default the CPUs shared among the workers
    device: str = "auto"  # auto | cpu | cuda (auto: cuda when gpus_per_worker is given or the cluster has GPUs)
    startup_timeout_s: float | None = None  # wait for the actors; None: 120 s local, 900 s with an address
    task_timeout_s: float | None = 600.0  # one scoring request; then its actor is replaced and it is retried
    proxy: str = "naswot"  # the training-free score NASWOT / AREA use
    ensemble: tuple[str, ...] = ()  # several proxies: rank by their rank ensemble instead
    space_options: tuple[tuple[str, Any], ...] = ()  # options of the space's networks (e.g. stem width)
    failure_cost_s: float = 1.0  # the least a failed candidate charges the simulated clock
    max_consecutive_failures: int = 100  # stop a run after this many failures in a row (0: never)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UnknownNameError("algorithm", self.algorithm, ALGORITHMS)
        if self.runs < 1 or self.workers < 1 or self.sim_workers < 1:
            raise ValueError(
                f"runs, workers and sim_workers must be at least 1, got {self.runs}, {self.workers}, {self.sim_workers}"
            )
        from cluster.resources import resolve_resources

        resolve_resources(  # raises for an unknown device or contradictory resources
            self.device, self.workers, {}, gpus_per_worker=self.gpus_per_worker, cpus_per_worker=self.cpus_per_worker
        )
        for name in ("startup_timeout_s", "task_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.algorithm in NEEDS_BUDGET and (self.budget_s is None or self.budget_s <= 0):
            raise ValueError(f"{self.algorithm} needs a positive budget_s")
        if self.executor not in ("ray", "inline"):
            raise UnknownNameError("executor", self.executor, ("ray", "inline"))
        if self.n < 1:
            raise ValueError(f"--n must be at least 1, got {self.n}")
        if self.population_size < 1 or not 1 <= self.sample_size <= self.population_size:
            raise ValueError(
                f"need 1 <= --sample-size <= --population-size, got {self.sample_size} and {self.population_size}"
            )
        if self.algorithm == "area" and self.m < self.population_size:
            raise ValueError(f"--m ({self.m}) must be at least --population-size ({self.population_size})")
        if self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2, got {self.batch_size}")
        if self.failure_cost_s < 0 or self.max_consecutive_failures < 0:
            raise ValueError("--failure-cost and --max-consecutive-failures must not be negative")
        object.__setattr__(self, "space_options", tuple(sorted(tuple(p) for p in self.space_options)))
        object.__setattr__(self, "fitness", tuple(self.fitness))
        object.__setattr__(self, "ensemble", tuple(self.ensemble))
        from scoring.proxies import get_proxy

        for name in (self.proxy, *self.ensemble):
            get_proxy(name)
        if len(self.ensemble) == 1:
            raise ValueError("an ensemble needs at least two proxies (use --proxy for one)")

    @property
    def proxies(self) -> tuple[str, ...]:
        """The proxies every scored cell gets."""
        return self.ensemble or (self.proxy,)

    def scorer_config(self, device: str = "cpu") -> ScorerConfig:
        return ScorerConfig(
            self.space,
            self.dataset,
            self.batch_size,
            self.batch_seed,
            self.data_dir,
            device,
            proxy=self.proxies[0],
            space_options=self.space_options,
        )

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ExperimentConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "space_options" in values:
            values["space_options"] = tuple(tuple(p) for p in values["space_options"])
        return cls(**values)


def make_searcher(config: ExperimentConfig, space, rng: np.random.Generator):
    if config.algorithm == "naswot":
        return NASWOTSearch(space, rng, n=config.n, ensemble=config.ensemble)
    if config.algorithm == "random":
        return RandomSearch(space, rng)
    if config.algorithm == "rea":
        return RegularizedEvolution(space, rng, config.population_size, config.sample_size)
    return AREA(space, rng, config.population_size, config.sample_size, m=config.m, ensemble=config.ensemble)


def _versions() -> dict:
    import pyarrow
    import torch

    out = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pyarrow": pyarrow.__version__,
    }
    try:
        import ray

        out["ray"] = ray.__version__
    except ImportError:  # pragma: no cover - ray is a dependency
        pass
    return out


def new_run_dir(root: str | Path, algorithm: str) -> Path:
    """A fresh run directory path under ``root`` (not created: :func:`run_experiment` creates it)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{algorithm}-{stamp}-{uuid.uuid4().hex[:6]}"


def make_pool(config: ExperimentConfig):
    """The scoring pool the config asks for: the one place a search builds it.

    ``inline`` scores in this process; ``ray`` starts ``config.workers`` actors through
    ``cluster.ray_pool.RayScoringPool`` with the config's device, resources, address and timeouts.

    Raises:
        RayConnectionError / ActorStartupError (``cluster.ray_pool``): Ray or the actors did not start.
    """
    if config.executor == "inline":
        return InlinePool(config.scorer_config())
    from cluster.ray_pool import RayScoringPool

    return RayScoringPool(
        config.scorer_config(),
        workers=config.workers,
        address=config.address,
        device=config.device,
        gpus_per_worker=config.gpus_per_worker,
        cpus_per_worker=config.cpus_per_worker,
        startup_timeout_s=config.startup_timeout_s,
        task_timeout_s=config.task_timeout_s,
    )


@dataclass
class Prepared:
    """Everything a run opens, checked before anything is created or started (see :func:`prepare`)."""

    space: Any
    oracle: LookupOracle | NoBenchmarkOracle
    store: ScoreStore | None
    benchmark: Any = None  # the space's Benchmark, or None (score-only)


def prepare(config: ExperimentConfig) -> Prepared:
    """Open and check every input of ``config`` without side effects: the space, the benchmark, the
    images (a user's ``data_dir`` is read and the minibatch drawn), and the score store's format.

    Raises:
        NaswotError (BenchmarkDataError, ScoreStoreError, UnknownNameError, ...) or ValueError: with
            one line saying what is wrong. Nothing is created on disk and Ray is not started.
    """
    space = get_space(config.space, **dict(config.space_options))
    benchmark = open_benchmark(space, config.benchmark_path)
    default_fitness = ExperimentConfig.__dataclass_fields__["fitness"].default
    space, oracle, note = open_oracle(
        space,
        benchmark,
        needs_full=config.algorithm in NEEDS_BUDGET,
        fitness=None if tuple(config.fitness) == tuple(default_fitness) else config.fitness,
    )
    if note:
        print(note, file=sys.stderr)
    store = None
    if config.algorithm in NEEDS_SCORES:
        scorer = config.scorer_config()
        for proxy in config.proxies:
            scorer.images_hash(proxy)  # reads the images now: a bad --data-dir fails here
        if config.store:
            store = ScoreStore(config.store)
    return Prepared(space, oracle, store, benchmark)


def benchmark_record(benchmark) -> dict:
    """The benchmark part of ``config.json``: its name, metric specs (the history's metric columns),
    fitness and cost; ``{"name": None, ...}`` for a score-only run."""
    if benchmark is None:
        return {"name": None, "metrics": [], "fitness": None, "cost": None, "sample_cells": None}
    cells = benchmark.cells()
    return {
        "name": benchmark.name,
        "space": benchmark.space_name,
        "metrics": [dataclasses.asdict(m) for m in benchmark.metrics],
        "fitness": benchmark.default_fitness,
        "cost": benchmark.cost_name,
        "sample_cells": None if cells is None else len(cells),
    }


def _config_record(config: ExperimentConfig, run_dir: Path) -> dict:
    return {
        "config": config.to_json(),
        "versions": _versions(),
        "run_id": run_dir.name,
        "seeds": [config.seed + r for r in range(config.runs)],
        "written_unix": time.time(),
        "resumes": [],
    }


def record_resume(run_dir: Path, argv: list[str] | None = None) -> None:
    """Append a resume event (time, library versions, command line) to ``config.json``; the rest of
    the record stays as the run began."""
    data = read_config(run_dir)
    data.setdefault("resumes", []).append({"unix": time.time(), "versions": _versions(), "argv": list(argv or [])})
    write_json_atomic(data, run_dir / CONFIG_FILE)


def run_experiment(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    repair: bool = False,
    pool=None,
    progress: bool = True,
    on_run: Callable[[RunOutcome], None] | None = None,
    prepared: Prepared | None = None,
    argv: list[str] | None = None,
) -> list[RunOutcome]:
    """Run (or continue) ``config.runs`` seeded searches, appending to ``run_dir``'s history.

    A new run writes ``config.json`` (configuration, library versions, seeds). With ``resume``, the
    rows already in the history are replayed, so the answers equal those of an uninterrupted run,
    and a resume event is appended to ``config.json``; ``repair`` moves corrupt history parts aside
    first. The history is flushed on every exit, Ctrl-C included.

    Raises:
        ResumeMismatchError: the history was written by another configuration.
        HistoryCorruptError: a history part is corrupt and ``repair`` is off.
        TooManyFailuresError: a run had ``config.max_consecutive_failures`` failures in a row.
    """
    prepared = prepared or prepare(config)
    space = prepared.space
    run_dir = Path(run_dir)
    replay_rows: dict[int, dict[int, dict]] = {}
    if resume:
        frame = load_history(run_dir, repair=repair)  # a corrupt history fails before Ray starts
        for row in frame.to_dict("records"):
            replay_rows.setdefault(int(row["seed"]), {})[int(row["trial_id"])] = row
    own_pool = pool is None and config.algorithm in NEEDS_SCORES
    if own_pool:
        pool = make_pool(config)  # before the run directory: actors that cannot start leave nothing behind
    if resume:
        record_resume(run_dir, argv)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        record = _config_record(config, run_dir)
        record["benchmark"] = benchmark_record(prepared.benchmark)
        record["benchmark"]["fitness"] = prepared.oracle.fitness_name or None
        write_json_atomic(record, run_dir / CONFIG_FILE)
    store = prepared.store
    scoring = ScoringService(config.scorer_config(), pool, store, space, config.proxies) if pool is not None else None
    outcomes: list[RunOutcome] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.runs, desc=f"{config.algorithm} runs", unit="run", file=sys.stderr)
    try:
        with HistoryWriter(run_dir, metric_names=prepared.oracle.metric_names) as writer:
            for r in range(config.runs):
                seed = config.seed + r
                rng = np.random.default_rng(np.random.SeedSequence(seed))
                driver = SimulatedDriver(
                    make_searcher(config, space, rng),
                    oracle=prepared.oracle,
                    scoring=scoring,
                    writer=writer,
                    run_id=run_dir.name,
                    algorithm=config.algorithm,
                    seed=seed,
                    arch_key=lambda a: space.key(space.parse(a)),
                    workers=config.sim_workers,
                    budget_s=config.budget_s,
                    init_seed=config.init_seed,
                    replay=replay_rows.get(seed),
                    failure_cost_s=config.failure_cost_s,
                    max_consecutive_failures=config.max_consecutive_failures,
                )
                outcome = driver.run()
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
        if own_pool and pool is not None:
            pool.close()
    return outcomes


def resume_config(run_dir: str | Path) -> ExperimentConfig:
    """The configuration a run directory was started with."""
    data = read_config(run_dir)
    try:
        return ExperimentConfig.from_json(data["config"])
    except (KeyError, TypeError) as exc:
        raise NaswotError(f"{str(run_dir)!r}/{CONFIG_FILE} is not a naswot config: {exc}") from exc
