"""The configuration of an experiment: frozen, typed, validated on construction.

An :class:`ExperimentConfig` holds everything a run depends on (and where it runs); the CLIs only
parse arguments into one, and ``config.json`` records it (:meth:`ExperimentConfig.to_json`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cluster.resources import resolve_resources
from cluster.tuner import TuneOptions
from orchestrator.algorithms import ALGORITHMS, SearchParams, algorithm
from orchestrator.constraints import Constraints
from orchestrator.mo_searchers import (
    DEFAULT_OBJECTIVE_COST,
    DEFAULT_SELECTION,
    LATENCY_COST,
    OBJECTIVE_COSTS,
    SELECTIONS,
)
from orchestrator.searchers import FUSIONS
from scoring.proxies import check_proxy_space
from scoring.scorer import ScorerConfig
from scoring.store import DEFAULT_STORE
from search_spaces.core.errors import NaswotError, UnknownNameError

ORACLES = ("lookup", "tune")
EXECUTORS = ("ray", "inline")


@dataclass(frozen=True)
class PoolOptions:
    """Where cells are scored: ``inline`` in this process, or ``ray`` on ``workers`` actors with the
    given device and resources (see ``cluster.ray_pool.RayScoringPool``)."""

    executor: str = "ray"
    workers: int = 1
    address: str | None = None
    device: str = "auto"
    gpus_per_worker: float | None = None
    cpus_per_worker: float | None = None
    startup_timeout_s: float | None = None
    task_timeout_s: float | None = 600.0
    cells_per_call: int | None = None  # requests per actor call; None: 1 on the CPU, 8 on a GPU

    def __post_init__(self) -> None:
        if self.cells_per_call is not None and self.cells_per_call < 1:
            raise ValueError(f"--cells-per-call must be at least 1, got {self.cells_per_call}")
        if self.executor not in EXECUTORS:
            raise UnknownNameError("executor", self.executor, EXECUTORS)
        if self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        resolve_resources(  # raises for an unknown device or contradictory resources
            self.device, self.workers, {}, gpus_per_worker=self.gpus_per_worker, cpus_per_worker=self.cpus_per_worker
        )
        for name in ("startup_timeout_s", "task_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run depends on; validated on construction (``ValueError`` / ``NaswotError``).

    ``oracle``: ``lookup`` answers evaluations from the space's benchmark on simulated time;
    ``tune`` trains every evaluated cell with Ray Tune (``tune`` holds the training options, and
    ``budget_s`` is then real seconds). ``max_evaluations``: stop a run after this many evaluations
    (a budget for benchmarks that record no training time); with ``budget_s`` too, whichever comes first.
    """

    algorithm: str
    runs: int = 1
    seed: int = 0
    workers: int = 1  # Ray scoring actors (real parallelism; the answer does not depend on it)
    sim_workers: int = 1  # virtual workers of the simulated clock (1: the papers' time model)
    budget_s: float | None = None
    max_evaluations: int | None = None
    n: int = 100  # NASWOT: cells scored
    m: int = 20  # AREA: cells scored before evolution
    population_size: int = 10
    sample_size: int = 3
    objective_cost: str = DEFAULT_OBJECTIVE_COST  # mo_rea: the cost minimised beside the fitness
    selection: str = DEFAULT_SELECTION  # mo_rea: tie-break among equal non-dominated ranks
    space: str = "nb201"
    dataset: str = "cifar10"  # images for scoring
    batch_size: int = 128
    batch_seed: int = 0
    init_seed: int = 0
    fitness: str | None = None  # the metric evolution optimises; None: the benchmark's default
    benchmark_path: str | None = None  # the user's benchmark file or directory; None = embedded table
    data_dir: str | None = None  # a CIFAR python-batches directory; None = embedded images
    store: str | None = str(DEFAULT_STORE)  # shared score store; None disables it
    shipped_scores: bool = True  # the store also answers from the scores shipped with naswot
    executor: str = "ray"  # "ray" (actors) or "inline" (this process)
    address: str | None = None  # an existing Ray cluster
    gpus_per_worker: float | None = None  # cuda: default 1 (fractions pack actors on a GPU); cpu: 0
    cpus_per_worker: float | None = None  # cuda: default 1; cpu: default the CPUs shared among the workers
    device: str = "auto"  # auto | cpu | cuda (auto: cuda when gpus_per_worker is given or the cluster has GPUs)
    startup_timeout_s: float | None = None  # wait for the actors; None: 120 s local, 900 s with an address
    task_timeout_s: float | None = 600.0  # one scoring request; then its actor is replaced and it is retried
    cells_per_call: int | None = None  # scoring requests per actor call; None: 1 on the CPU, 8 on a GPU
    proxy: str = "naswot"  # the training-free score NASWOT / AREA use
    ensemble: tuple[str, ...] = ()  # several proxies: rank by their rank ensemble instead
    fusion: str = "rank"  # how the ensemble's ranks combine: rank (sum of ranks) | logrank (sum of log ranks)
    neighbours: int = 24  # guided_ls: distinct mutations scored around each incumbent
    space_options: tuple[tuple[str, Any], ...] = ()  # options of the space's networks (e.g. stem width)
    failure_cost_s: float = 1.0  # the least a failed candidate charges the simulated clock
    max_consecutive_failures: int = 100  # stop a run after this many failures in a row (0: never)
    oracle: str = "lookup"  # lookup | tune
    tune: TuneOptions | None = None  # the training options of oracle "tune"
    constraints: Constraints | None = None  # limits on params, FLOPs, latency: searchers return feasible cells only

    def __post_init__(self) -> None:
        spec = algorithm(self.algorithm)
        if self.runs < 1 or self.sim_workers < 1:
            raise ValueError(f"runs and sim_workers must be at least 1, got {self.runs}, {self.sim_workers}")
        self.pool_options()  # validates the executor, workers, device, resources and timeouts
        if self.oracle not in ORACLES:
            raise UnknownNameError("oracle", self.oracle, ORACLES)
        if isinstance(self.tune, dict):
            object.__setattr__(self, "tune", TuneOptions.from_json(self.tune))
        if isinstance(self.constraints, dict):
            object.__setattr__(self, "constraints", Constraints.from_json(self.constraints))
        if self.constraints is not None and not self.constraints.active and self.constraints.latency_device is None:
            object.__setattr__(self, "constraints", None)
        if self.oracle == "tune":
            if not spec.trains:
                trains = ", ".join(a for a, s in ALGORITHMS.items() if s.trains)
                raise NaswotError(f"--oracle tune runs {trains}, not {self.algorithm}")
            if self.tune is None:
                object.__setattr__(self, "tune", TuneOptions(concurrent=self.workers))
        elif self.tune is not None:
            raise ValueError("training options (tune) only go with oracle 'tune'")
        if self.max_evaluations is not None and self.max_evaluations < 1:
            raise ValueError(f"--max-evaluations must be at least 1, got {self.max_evaluations}")
        if self.budget_s is not None and not self.budget_s > 0:
            raise ValueError(f"--budget must be positive, got {self.budget_s}")
        if spec.evaluates and self.budget_s is None and self.max_evaluations is None:
            raise ValueError(f"{self.algorithm} needs a budget: --budget seconds or --max-evaluations")
        if self.n < 1:
            raise ValueError(f"--n must be at least 1, got {self.n}")
        if self.population_size < 1 or not 1 <= self.sample_size <= self.population_size:
            raise ValueError(
                f"need 1 <= --sample-size <= --population-size, got {self.sample_size} and {self.population_size}"
            )
        if self.fusion not in FUSIONS:
            raise UnknownNameError("fusion", self.fusion, FUSIONS)
        if self.neighbours < 1 or self.m < 1:
            raise ValueError(f"--neighbours and --m must be at least 1, got {self.neighbours}, {self.m}")
        if self.algorithm == "area" and self.m < self.population_size:
            raise ValueError(f"--m ({self.m}) must be at least --population-size ({self.population_size})")
        if self.algorithm == "mo_rea":
            self._check_objective()
        if self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2, got {self.batch_size}")
        if self.failure_cost_s < 0 or self.max_consecutive_failures < 0:
            raise ValueError("--failure-cost and --max-consecutive-failures must not be negative")
        object.__setattr__(self, "space_options", tuple(sorted(tuple(p) for p in self.space_options)))
        object.__setattr__(self, "ensemble", tuple(self.ensemble))
        for name in (self.proxy, *self.ensemble):
            check_proxy_space(name, self.space)
        if len(self.ensemble) == 1:
            raise ValueError("an ensemble needs at least two proxies (use --proxy for one)")

    def _check_objective(self) -> None:
        """mo_rea's cost must be one the run records (costs are recorded only with constraints)."""
        if self.objective_cost not in OBJECTIVE_COSTS:
            raise UnknownNameError("objective cost", self.objective_cost, OBJECTIVE_COSTS)
        if self.selection not in SELECTIONS:
            raise UnknownNameError("selection", self.selection, SELECTIONS)
        c = self.constraints
        if c is None or (self.objective_cost == LATENCY_COST and c.latency_device is None):
            raise ValueError(
                f"mo_rea minimises {self.objective_cost}, which this run would not record: give --latency-device "
                "DEVICE (e.g. hwnb_pixel3)" + ("" if self.objective_cost == LATENCY_COST else " or a limit")
            )

    @property
    def proxies(self) -> tuple[str, ...]:
        """The proxies every scored cell gets."""
        return self.ensemble or (self.proxy,)

    def search_params(self) -> SearchParams:
        """The algorithm's own parameters."""
        return SearchParams(
            self.n,
            self.m,
            self.population_size,
            self.sample_size,
            self.ensemble,
            self.objective_cost,
            self.selection,
            self.fusion,
            self.neighbours,
        )

    def pool_options(self) -> PoolOptions:
        """Where this run's cells are scored."""
        return PoolOptions(
            self.executor,
            self.workers,
            self.address,
            self.device,
            self.gpus_per_worker,
            self.cpus_per_worker,
            self.startup_timeout_s,
            self.task_timeout_s,
            self.cells_per_call,
        )

    def scorer_config(self, device: str = "cpu") -> ScorerConfig:
        """How this run's cells are scored (space, images, proxy, build options)."""
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

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON-able values (``tune`` as a dict or None)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Inverse of :meth:`to_json`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "space_options" in values:
            values["space_options"] = tuple(tuple(p) for p in values["space_options"])
        if isinstance(values.get("tune"), dict):
            values["tune"] = TuneOptions.from_json(values["tune"])
        if isinstance(values.get("constraints"), dict):
            values["constraints"] = Constraints.from_json(values["constraints"])
        return cls(**values)
