"""The search driver: runs a searcher against an oracle and a scoring service on a simulated clock.

Time model (as in the benchmark papers, generalised to W parallel workers): the search owns
``workers`` virtual workers. A trial starts on a free worker at the current simulated time and
ends ``cost_s`` later: the oracle's cost (e.g. the 12-epoch training time) for an evaluation, the
*measured* build + scoring time for a training-free score. Results reach the searcher in order of
simulated end time, and a trial that would end after the budget is not told. With ``workers=1``
a 12,000 s budget means exactly what it means in the papers.

Real parallelism is separate from simulated time: trials the searcher marks ``prefetchable``
(random samples, which do not depend on any result) are gathered and scored together, W at a time,
on the scoring pool (Ray actors), then enter the simulated schedule in the order they were asked.
So the outcome depends only on the seed and the measured costs, never on real scheduling.

Resume: rows already in the history are *replayed* instead of executed: the searcher, seeded as
before, asks the same trials, is told the recorded results, and the run continues where it stopped
with the same final answer as an uninterrupted run.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.history import HistoryWriter, history_row, metric_columns
from orchestrator.oracles import Oracle
from orchestrator.searchers import Searcher
from scoring.scorer import scored_after_fallback
from scoring.service import ScoringService
from search_spaces.core.errors import NaswotError
from search_spaces.core.records import Kind, Result, Status, Trial, result_from_fields

PREFETCH_LIMIT = 10_000


class ResumeMismatchError(NaswotError, RuntimeError):
    """The history being resumed was not produced by this configuration."""


class TooManyFailuresError(NaswotError, RuntimeError):
    """A run stopped because ``max_consecutive_failures`` candidates in a row failed."""


def guarded_evaluate(oracle: Oracle, arch: str) -> Result:
    """``oracle.evaluate(arch)``, with any exception turned into a FAILED result carrying its message."""
    try:
        return oracle.evaluate(arch)
    except Exception as exc:  # noqa: BLE001 - one candidate's fault is an outcome, never the run's end
        return Result(Status.FAILED, error=f"{type(exc).__name__}: {exc}", worker="oracle")


@dataclass(frozen=True)
class RunOutcome:
    """How one search run ended."""

    seed: int
    best: tuple[Trial, Result] | None
    sim_time_s: float
    wall_s: float
    told: int
    failed: int
    replayed: int
    stopped_by: str  # "finished" | "budget" (seconds) | "evaluations"


def combine_scores(per_proxy, oracle: Oracle, arch: str) -> Result:
    """One SCORE result from the records of every proxy of a cell.

    FAILED if any proxy failed, NONFINITE if any value is not finite. ``score`` and ``value`` are
    the first proxy's; with several proxies the searcher ranks by ``proxy_scores`` (rank ensemble).
    """
    records = [record for record, _cached in per_proxy]
    first = records[0]
    if any(r.status is Status.FAILED for r in records):
        status = Status.FAILED
    elif any(r.status is Status.NONFINITE for r in records):
        status = Status.NONFINITE
    else:
        status = Status.OK
    metrics: dict[str, float] = {}
    if status is not Status.FAILED:
        try:
            metrics = oracle.metrics(arch)
        except Exception:  # noqa: BLE001 - a lookup fault of one cell leaves its metrics NaN; the score stands
            metrics = {}
    return Result(
        status=status,
        value=first.score,
        cost_s=sum(r.build_s + r.score_s for r in records),
        score=first.score,
        score_s=sum(r.score_s for r in records),
        metrics=metrics,
        proxy_scores={r.key.proxy: r.score for r in records},
        error="; ".join(r.error for r in records if r.error),
        worker=f"{first.worker} [{first.device}]"
        if first.worker and scored_after_fallback(first)
        else first.worker or first.device,
        cached=all(cached for _r, cached in per_proxy),
    )


def result_from_row(row: Mapping[str, Any]) -> Result:
    """Rebuild the Result of a history row (for replay on resume); its metrics are the row's metric
    columns, whatever the oracle."""
    return result_from_fields(row, row["kind"], metric_columns(row))


class SimulatedDriver:
    """Drives one searcher to the end of its search or its budget (see the module docstring).

    Args:
        workers: number of virtual workers W (>= 1).
        budget_s: simulated seconds; ``None`` runs until the searcher is finished (or ``max_evaluations``).
        max_evaluations: stop after this many EVALUATE trials were told (a budget in evaluations, for
            benchmarks that record no training time); ``None``: no such limit.
        init_seed: initialisation seed of every scored network (shared score store key).
        replay: history rows of this run keyed by trial id (resume).
        on_told: called after each told trial (progress bars).
        failure_cost_s: the least a failed trial charges the clock (a failed lookup costs nothing
            otherwise, and a search of failures would never advance its clock).
        max_consecutive_failures: stop with :class:`TooManyFailuresError` after this many failed
            trials in a row (0: never).
    """

    def __init__(
        self,
        searcher: Searcher,
        *,
        oracle: Oracle,
        scoring: ScoringService | None,
        writer: HistoryWriter | None,
        run_id: str,
        algorithm: str,
        seed: int,
        arch_key: Callable[[str], str],
        workers: int = 1,
        budget_s: float | None = None,
        max_evaluations: int | None = None,
        init_seed: int = 0,
        replay: Mapping[int, Mapping[str, Any]] | None = None,
        on_told: Callable[[Trial, Result, float], None] | None = None,
        failure_cost_s: float = 1.0,
        max_consecutive_failures: int = 100,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.searcher = searcher
        self.oracle = oracle
        self.scoring = scoring
        self.writer = writer
        self.run_id, self.algorithm, self.seed = run_id, algorithm, seed
        self.arch_key = arch_key
        self.workers = workers
        self.budget_s = budget_s
        self.max_evaluations = max_evaluations
        self._evaluations = 0
        self.init_seed = init_seed
        self.replay = dict(replay or {})
        self.on_told = on_told
        if failure_cost_s < 0 or max_consecutive_failures < 0:
            raise ValueError("failure_cost_s and max_consecutive_failures must not be negative")
        self.failure_cost_s = failure_cost_s
        self.max_consecutive_failures = max_consecutive_failures
        self._consecutive_failures = 0
        self.now = 0.0
        self._seq = 0
        self._running: list[tuple[float, int, float, Trial, Result]] = []
        self._queue: deque[tuple[Trial, Result]] = deque()
        self._told = 0
        self._failed = 0
        self._replayed = 0
        self._wall0 = time.perf_counter()

    # -- executing trials -------------------------------------------------------------------
    def _replayed_result(self, trial: Trial) -> Result | None:
        row = self.replay.get(trial.trial_id)
        if row is None:
            return None
        if row["arch"] != trial.arch or row["kind"] != trial.kind.value:
            raise ResumeMismatchError(
                f"seed {self.seed}: trial {trial.trial_id} is {trial.arch} ({trial.kind.value}) now but "
                f"{row['arch']} ({row['kind']}) in the history: resume with the configuration that wrote it"
            )
        self._replayed += 1
        return result_from_row(row)

    def _execute(self, trials: list[Trial]) -> list[Result]:
        results: list[Result | None] = [self._replayed_result(t) for t in trials]
        to_score = [i for i, t in enumerate(trials) if results[i] is None and t.kind is Kind.SCORE]
        if to_score:
            if self.scoring is None:
                raise NaswotError(f"{self.algorithm} asks for scores but the driver has no scoring service")
            answers = self.scoring.score_many([(trials[i].arch, self.init_seed) for i in to_score])
            for i, per_proxy in zip(to_score, answers):
                results[i] = combine_scores(per_proxy, self.oracle, trials[i].arch)
        for i, trial in enumerate(trials):
            if results[i] is None:
                results[i] = guarded_evaluate(self.oracle, trial.arch)
        return results  # type: ignore[return-value]

    # -- the simulated clock ----------------------------------------------------------------
    def _start(self, trial: Trial, result: Result) -> None:
        cost = result.cost_s if math.isfinite(result.cost_s) and result.cost_s > 0 else 0.0
        if result.status is Status.FAILED:
            cost = max(cost, self.failure_cost_s)
        heapq.heappush(self._running, (self.now + cost, self._seq, self.now, trial, result))
        self._seq += 1

    def _fill(self) -> None:
        """Start trials on every free virtual worker, asking the searcher for more as needed."""
        while len(self._running) < self.workers:
            if self._queue:
                self._start(*self._queue.popleft())
                continue
            trial = self.searcher.ask()
            if trial is None:
                return
            batch = [trial]
            while batch[-1].prefetchable and len(batch) < PREFETCH_LIMIT:
                more = self.searcher.ask()
                if more is None:
                    break
                batch.append(more)
            self._queue.extend(zip(batch, self._execute(batch)))

    def run(self) -> RunOutcome:
        """Run to the end; returns the outcome. Rows are appended to the writer as trials are told."""
        stopped_by = "finished"
        while True:
            self._fill()
            if not self._running:
                if self._queue:
                    continue
                if not self.searcher.finished and self.budget_s is None and self.max_evaluations is None:
                    raise NaswotError(f"{self.algorithm} stalled: nothing running and nothing to ask")
                break
            end, _seq, start, trial, result = heapq.heappop(self._running)
            if self.budget_s is not None and end > self.budget_s:
                stopped_by = "budget"
                self.now = self.budget_s
                break
            self.now = end
            self.searcher.tell(trial, result)
            if not result.ok:
                self._failed += 1
            if result.status is Status.FAILED:
                self._consecutive_failures += 1
            else:
                self._consecutive_failures = 0
            best = self.searcher.best()
            if self.writer is not None and trial.trial_id not in self.replay:
                self.writer.append(
                    history_row(
                        run_id=self.run_id,
                        algorithm=self.algorithm,
                        seed=self.seed,
                        tell_order=self._told,
                        trial=trial,
                        result=result,
                        arch_key=self.arch_key(trial.arch),
                        fitness_name=self.oracle.fitness_name,
                        sim_start_s=start,
                        sim_end_s=end,
                        wall_s=time.perf_counter() - self._wall0,
                        incumbent=best[0].trial_id if best is not None else -1,
                    )
                )
            self._told += 1
            if trial.kind is Kind.EVALUATE:
                self._evaluations += 1
            if self.on_told is not None:
                self.on_told(trial, result, self.now)
            if self.max_consecutive_failures and self._consecutive_failures >= self.max_consecutive_failures:
                raise TooManyFailuresError(
                    f"{self.algorithm} seed {self.seed} stopped: {self._consecutive_failures} candidates failed in a "
                    f"row (--max-consecutive-failures {self.max_consecutive_failures}); the last: {trial.arch}: "
                    f"{result.error.splitlines()[0] if result.error else 'no message'}"
                )
            if self.max_evaluations is not None and self._evaluations >= self.max_evaluations:
                stopped_by = "evaluations"
                break
        return RunOutcome(
            seed=self.seed,
            best=self.searcher.best(),
            sim_time_s=self.now,
            wall_s=time.perf_counter() - self._wall0,
            told=self._told,
            failed=self._failed,
            replayed=self._replayed,
            stopped_by=stopped_by,
        )
