"""A ``ray.tune.search.Searcher`` over the project's ask/tell searchers (Random, REA, AREA).

``suggest`` asks the searcher and hands Tune the cell to train; ``on_trial_complete`` tells the
searcher the trial's final validation accuracy (or a FAILED result for an errored trial). Searchers
ask training-free SCORE trials too (AREA's M cells): those never become Tune trials; they go to
``score_fn`` (the project's scoring path: store, then scoring actors), in one batch, and their
results are told before any evaluation is suggested. :meth:`AskTellAdapter.prepare` does that
phase up front, so the scoring actors can be released before training starts.

State (``save``/``restore``) is JSON: the seed of the searcher's RNG and the log of every ask and
tell (the records' own ``Trial.fields`` / ``result_fields`` serialisation), plus the map of pending Tune trials. ``restore`` rebuilds the searcher from its factory and
seed and replays the log, which puts back the searcher, its RNG (checked: every replayed ask must
give the same cell) and the pending trials. No pickle of the searcher is needed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from cluster.trainable import METRIC
from search_spaces.core.atomic import write_bytes_atomic
from search_spaces.core.errors import NaswotError
from search_spaces.core.records import Kind, Result, Status, Trial, result_fields, result_from_fields

STATE_VERSION = 2  # 2: the log stores the records' own fields


class SearcherStateError(NaswotError, RuntimeError):
    """A saved searcher state cannot be restored (unreadable, another version, or its replay diverged)."""


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float written as its repr (JSON has no NaN/inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def result_of_trial(result: dict[str, Any] | None, error: bool) -> Result:
    """The searcher's Result of a finished Tune trial: its last reported validation accuracy, or
    FAILED when it errored or never reported."""
    if error or not result or METRIC not in result:
        return Result(Status.FAILED, error="the training trial errored" if error else "no result reported")
    value = float(result[METRIC])
    return Result(
        Status.of_value(value),
        value=value,
        cost_s=float(result.get("time_total_s", math.nan)),
        fitness=value,
        worker=str(result.get("device", "")),
    )


class AskTellAdapter(Searcher):
    """Tune's Searcher seam over an ask/tell searcher.

    Args:
        factory: ``factory(rng) -> searcher``; must be picklable (Tune pickles the search algorithm
            with the Tuner); called again, with a fresh RNG from ``seed``, by :meth:`restore`.
        seed: entropy of the searcher's ``numpy.random.SeedSequence``.
        base_config: merged into every suggested config (e.g. the training settings).
        score_fn: scores SCORE trials: ``score_fn(trials) -> results`` in order. Not saved or
            pickled; a restored adapter needs it only if it asks SCORE trials again.
        max_evaluations: after this many suggested trials, ``suggest`` returns ``FINISHED``.
        on_told: called ``(trial, result)`` after each tell (e.g. to write history rows of scores).
        cell_metrics: ``cell_metrics(arch) -> metrics`` added to each trained trial's result before
            the searcher is told (e.g. the cell's costs under the run's constraints); must be
            picklable (it is saved with the adapter) and must not raise.
    """

    def __init__(
        self,
        factory: Callable[[np.random.Generator], Any],
        seed: int,
        base_config: dict[str, Any] | None = None,
        *,
        score_fn: Callable[[Sequence[Trial]], list[Result]] | None = None,
        max_evaluations: int | None = None,
        on_told: Callable[[Trial, Result], None] | None = None,
        cell_metrics: Callable[[str], dict[str, float]] | None = None,
        metric: str = METRIC,
        mode: str = "max",
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.factory = factory
        self.seed = int(seed)
        self.base_config = dict(base_config or {})
        self.score_fn = score_fn
        self.on_told = on_told
        self.cell_metrics = cell_metrics
        self.max_evaluations = max_evaluations
        self._reset()

    # -- state ---------------------------------------------------------------------------------
    def _reset(self) -> None:
        # not named "searcher": Tune treats an object with a .searcher as a wrapper and unwraps it
        self.inner = self.factory(np.random.default_rng(np.random.SeedSequence(self.seed)))
        self.log: list[list[Any]] = []  # ["ask", trial json] | ["tell", trial_id, result json]
        self.pending: dict[str, Trial] = {}  # Tune trial id -> searcher trial
        self.trials: dict[int, Trial] = {}
        self.held: Trial | None = None  # asked by prepare(), suggested next
        self.suggested = 0
        self.tell_count = 0
        # Tune trial id -> (trial, result, tell order, incumbent) of tells not yet written to a history
        self.told: dict[str, tuple[Trial, Result, int, int]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["score_fn"] = None  # holds scoring actors; never pickled
        state["on_told"] = None
        state["told"] = {}
        return state

    def get_state(self) -> dict[str, Any]:
        """The JSON-able state: version, seed, ask/tell log, pending Tune trials, suggestions made."""
        return {
            "version": STATE_VERSION,
            "seed": self.seed,
            "log": self.log,
            "pending": {k: t.trial_id for k, t in self.pending.items()},
            "suggested": self.suggested,
            "held": None if self.held is None else self.held.trial_id,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Rebuild the searcher from the factory and replay ``state``'s log.

        Raises:
            SearcherStateError: another state version or seed, or a replayed ask gave another cell.
        """
        if state.get("version") != STATE_VERSION or int(state.get("seed", -1)) != self.seed:
            raise SearcherStateError(
                f"searcher state version {state.get('version')} seed {state.get('seed')} does not match "
                f"version {STATE_VERSION} seed {self.seed}"
            )
        self._reset()
        for event in state["log"]:
            if event[0] == "ask":
                expected = Trial.from_fields(event[1])
                trial = self.inner.ask()
                if trial != expected:
                    raise SearcherStateError(f"replay diverged: asked {trial}, the log has {expected}")
                self._asked(trial)
            elif event[0] == "tell":
                trial = self.trials[int(event[1])]
                self._tell(trial, result_from_fields(event[2], trial.kind), notify=False)
            else:
                raise SearcherStateError(f"unknown event {event[0]!r} in the searcher state")
        self.pending = {str(k): self.trials[int(v)] for k, v in state["pending"].items()}
        self.suggested = int(state["suggested"])
        held = state.get("held")
        self.held = None if held is None else self.trials[int(held)]

    def save(self, checkpoint_path: str) -> None:
        """Write the state as JSON to ``checkpoint_path`` (temporary file, then rename)."""
        write_bytes_atomic(json.dumps(self.get_state()).encode(), Path(checkpoint_path))

    def restore(self, checkpoint_path: str) -> None:
        """Restore the state :meth:`save` wrote.

        Raises:
            SearcherStateError: unreadable file, or see :meth:`set_state`.
        """
        try:
            state = json.loads(Path(checkpoint_path).read_text())
        except (OSError, ValueError) as exc:
            raise SearcherStateError(f"cannot read searcher state {checkpoint_path!r}: {exc}") from exc
        self.set_state(state)

    # -- ask / tell ----------------------------------------------------------------------------
    def _asked(self, trial: Trial) -> None:
        self.trials[trial.trial_id] = trial
        self.log.append(["ask", trial.fields()])

    def incumbent(self) -> int:
        """The trial id the searcher would return now (-1: none yet)."""
        best = self.inner.best()
        return -1 if best is None else best[0].trial_id

    def _tell(self, trial: Trial, result: Result, notify: bool = True) -> None:
        self.inner.tell(trial, result)
        self.tell_count += 1
        self.log.append(["tell", trial.trial_id, _json_safe(result_fields(result))])
        if notify and self.on_told is not None:
            self.on_told(trial, result)

    def _score(self, trials: list[Trial]) -> None:
        if self.score_fn is None:
            raise NaswotError(f"the searcher asked {len(trials)} SCORE trials but the adapter has no score_fn")
        results = self.score_fn(trials)
        if len(results) != len(trials):
            raise NaswotError(f"score_fn returned {len(results)} results for {len(trials)} trials")
        for trial, result in zip(trials, results):
            self._tell(trial, result)

    def _next_evaluation(self) -> Trial | None:
        """Ask until an EVALUATE trial comes (SCORE trials are scored in batches and told)."""
        batch: list[Trial] = []
        while True:
            trial = self.inner.ask()
            if trial is not None:
                self._asked(trial)
            if trial is not None and trial.kind is Kind.SCORE:
                batch.append(trial)
                continue
            if batch:
                self._score(batch)
                batch = []
                if trial is None:
                    continue  # the scores may unblock the searcher
            return trial

    def prepare(self) -> int:
        """Run the searcher's scoring phase now (AREA's M scores); returns how many were scored.

        Any EVALUATE trial asked on the way is kept and suggested first.
        """
        scored_before = sum(1 for e in self.log if e[0] == "ask" and e[1]["kind"] == Kind.SCORE.value)
        if self.held is None:
            self.held = self._next_evaluation()
        return sum(1 for e in self.log if e[0] == "ask" and e[1]["kind"] == Kind.SCORE.value) - scored_before

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]  # FINISHED is a str
        """The config of Tune trial ``trial_id``; None to wait for results; FINISHED when done."""
        if self.max_evaluations is not None and self.suggested >= self.max_evaluations:
            return Searcher.FINISHED
        trial, self.held = self.held, None
        if trial is None:
            trial = self._next_evaluation()
        if trial is None:
            return Searcher.FINISHED if getattr(self.inner, "finished", False) else None
        self.pending[trial_id] = trial
        self.suggested += 1
        return {
            **self.base_config,
            "arch": trial.arch,
            "naswot_trial": trial.trial_id,
            "phase": trial.phase.value,
            "parent": trial.parent,
        }

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell the searcher how Tune trial ``trial_id`` ended (unknown ids are ignored)."""
        trial = self.pending.pop(trial_id, None)
        if trial is None:
            return
        told = result_of_trial(result, error)
        if self.cell_metrics is not None:
            told = dataclasses.replace(told, metrics={**told.metrics, **self.cell_metrics(trial.arch)})
        self._tell(trial, told)
        self.told[trial_id] = (trial, told, self.tell_count - 1, self.incumbent())
