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

import numpy as np

from scoring.scorer import ScorerConfig
from scoring.store import DEFAULT_STORE, ScoreStore
from search_spaces import UnknownNameError, get_space
from search_spaces.benchmarks import open_nb201_benchmark
from search_spaces.errors import NaswotError

from .driver import RunOutcome, SimulatedDriver
from .history import CONFIG_FILE, HistoryWriter, load_history, read_config, write_json_atomic
from .oracles import LookupOracle
from .scoring_service import InlinePool, ScoringService
from .searchers import AREA, NASWOTSearch, RandomSearch, RegularizedEvolution

ALGORITHMS = ("naswot", "random", "rea", "area")
NEEDS_SCORES = {"naswot", "area"}
NEEDS_BUDGET = {"random", "rea", "area"}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run depends on; validated on construction (``ValueError`` / ``UnknownNameError``)."""

    algorithm: str
    runs: int = 1
    seed: int = 0
    workers: int = 1
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
    gpus_per_worker: float | None = None  # default: 1 when the cluster has GPUs, else 0
    cpus_per_worker: float | None = None  # default: the CPUs shared among the workers
    proxy: str = "naswot"  # the training-free score NASWOT / AREA use
    ensemble: tuple[str, ...] = ()  # several proxies: rank by their rank ensemble instead
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UnknownNameError("algorithm", self.algorithm, ALGORITHMS)
        if self.runs < 1 or self.workers < 1:
            raise ValueError(f"runs and workers must be at least 1, got {self.runs}, {self.workers}")
        if self.algorithm in NEEDS_BUDGET and (self.budget_s is None or self.budget_s <= 0):
            raise ValueError(f"{self.algorithm} needs a positive budget_s")
        if self.executor not in ("ray", "inline"):
            raise UnknownNameError("executor", self.executor, ("ray", "inline"))
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
            self.space, self.dataset, self.batch_size, self.batch_seed, self.data_dir, device, proxy=self.proxies[0]
        )

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ExperimentConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{algorithm}-{stamp}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def make_pool(config: ExperimentConfig):
    """The scoring pool the config asks for (Ray actors or inline)."""
    if config.executor == "inline":
        return InlinePool(config.scorer_config())
    from cluster.ray_pool import RayScoringPool

    return RayScoringPool(
        config.scorer_config(),
        workers=config.workers,
        address=config.address,
        gpus_per_worker=config.gpus_per_worker,
        cpus_per_worker=config.cpus_per_worker,
    )


def run_experiment(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    pool=None,
    progress: bool = True,
    on_run: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run (or continue) ``config.runs`` seeded searches, appending to ``run_dir``'s history.

    With ``resume``, rows already in the history are replayed, so the answers equal those of an
    uninterrupted run. The history is flushed on every exit, Ctrl-C included.

    Raises:
        ResumeMismatchError: the history was written by another configuration.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    space = get_space(config.space)
    benchmark = open_nb201_benchmark(config.benchmark_path, space)
    oracle = LookupOracle(space, benchmark, config.fitness)
    replay_rows: dict[int, dict[int, dict]] = {}
    if resume:
        frame = load_history(run_dir)
        for row in frame.to_dict("records"):
            replay_rows.setdefault(int(row["seed"]), {})[int(row["trial_id"])] = row
    write_json_atomic(
        {
            "config": config.to_json(),
            "versions": _versions(),
            "run_id": run_dir.name,
            "seeds": [config.seed + r for r in range(config.runs)],
            "written_unix": time.time(),
        },
        run_dir / CONFIG_FILE,
    )
    store = ScoreStore(config.store) if config.store and config.algorithm in NEEDS_SCORES else None
    own_pool = pool is None and config.algorithm in NEEDS_SCORES
    if own_pool:
        pool = make_pool(config)
    scoring = ScoringService(config.scorer_config(), pool, store, space, config.proxies) if pool is not None else None
    outcomes: list[RunOutcome] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.runs, desc=f"{config.algorithm} runs", unit="run", file=sys.stderr)
    try:
        with HistoryWriter(run_dir) as writer:
            for r in range(config.runs):
                seed = config.seed + r
                rng = np.random.default_rng(np.random.SeedSequence(seed))
                driver = SimulatedDriver(
                    make_searcher(config, space, rng),
                    oracle=oracle,
                    scoring=scoring,
                    writer=writer,
                    run_id=run_dir.name,
                    algorithm=config.algorithm,
                    seed=seed,
                    arch_index=lambda a: int(space.key(space.parse(a))),
                    workers=config.workers,
                    budget_s=config.budget_s,
                    init_seed=config.init_seed,
                    replay=replay_rows.get(seed),
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
