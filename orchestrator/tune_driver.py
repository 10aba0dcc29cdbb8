"""The Tune driver: one seed of a search with real training, run by Ray Tune.

The run itself (validation, ``config.json``, the seed loop, resume events, the summary, Ctrl-C) is
:func:`orchestrator.experiment.run_experiment`'s, as for the simulated driver; this driver runs one
seed: the run's searcher (:class:`orchestrator.algorithms.SearcherFactory`) sits behind
:class:`cluster.tune_searcher.AskTellAdapter`; AREA's scoring phase runs first through the scoring
service (score store, then the scoring pool, released before training starts); then a ``Tuner``
(:func:`cluster.tuner.build_tuner`) trains every cell the searcher asks for. Finished trials and
scored cells become rows of the one history (the same schema as a simulated run: fitness = the final
validation accuracy, the metric ``<dataset>_valid_<E>ep``, cost = the trial's real training seconds);
every trained epoch a row of ``curves.parquet``.

Run directory additions::

    RUN_DIR/tune/seed-S/        Tune's experiment (trial checkpoints, searcher state)
    RUN_DIR/tune/seed-S.done    written when seed S finished

Resume. The simulated driver rebuilds a run by replaying its history: the searcher re-asks and is
told the recorded results. The Tune driver cannot do that alone: at a kill, trials that Tune had
started (asked by the searcher, training, with checkpoints) are not in the history, and only Tune's
experiment state maps them back to the searcher and to their checkpoints. So an unfinished seed
continues through ``Tuner.restore``, whose saved search algorithm holds the searcher's state as
its seed plus the ask/tell log of records (replayed, and checked ask by ask); finished seeds are
rebuilt from the history. Both resumes append the same resume event to ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cluster.trainable import train_cell
from cluster.tune_searcher import AskTellAdapter
from cluster.tuner import (
    CURVES_SCHEMA,
    build_tuner,
    can_restore,
    experiment_checkpoint_period,
    history_callback,
    restore_tuner,
)
from orchestrator.algorithms import SearcherFactory, algorithm
from orchestrator.config import ExperimentConfig
from orchestrator.driver import RunOutcome, combine_scores, result_from_row
from orchestrator.history import BASE_SCHEMA, CURVES_DIR, HistoryWriter, history_row, load_history
from orchestrator.oracles import CellCostMetrics, Oracle
from orchestrator.pools import make_pool
from scoring.service import ScoringService
from scoring.store import ScoreStore
from search_spaces import get_space
from search_spaces.core.atomic import write_json_atomic
from search_spaces.core.parts import PartsWriter
from search_spaces.core.records import Kind, Result, Trial

TUNE_DIR = "tune"


class TuneSeedDriver:
    """Runs seeds of ``config`` (oracle ``tune``) with real training; see the module docstring.

    Args:
        trainable: replaces :func:`cluster.trainable.train_cell` (tests inject faults this way).
        extra_config: added to every trial's config.
        experiment_checkpoint_s: how often Tune saves its experiment state.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        space: Any,
        oracle: Oracle,
        run_dir: Path,
        *,
        resume: bool,
        store: ScoreStore | None,
        trainable: Callable[[dict[str, Any]], None] | None = None,
        extra_config: dict[str, Any] | None = None,
        experiment_checkpoint_s: float = 1.0,
        progress: bool = True,
    ) -> None:
        assert config.tune is not None  # ExperimentConfig makes it for oracle "tune"
        self.config, self.options = config, config.tune
        self.space, self.oracle, self.run_dir = space, oracle, run_dir
        self.resume, self.store = resume, store
        self.trainable = trainable or train_cell
        self.settings = self.options.train_settings(config.space, config.dataset, config.data_dir)
        self.base_config = {"settings": self.settings.to_dict(), **(extra_config or {})}
        self.experiment_checkpoint_s = experiment_checkpoint_s
        self.progress = progress

    def _seed_rows(self, seed: int):
        if not (self.run_dir / "history.parquet").is_dir():
            return None
        frame = load_history(self.run_dir)
        return frame[frame["seed"] == seed]

    # -- one seed -----------------------------------------------------------------------------
    def run_seed(self, seed: int) -> RunOutcome:
        """Run (or continue, or rebuild when finished) seed ``seed``; returns its outcome."""
        began = time.perf_counter()
        done = self.run_dir / TUNE_DIR / f"seed-{seed}.done"
        if done.exists():
            return self._outcome(seed, json.loads(done.read_text()).get("wall_s", 0.0), replayed=True)
        exp_dir = self.run_dir / TUNE_DIR / f"seed-{seed}"
        rows = self._seed_rows(seed) if self.resume else None
        offset = float(rows["sim_end_s"].max()) if rows is not None and len(rows) else 0.0
        with experiment_checkpoint_period(self.experiment_checkpoint_s):
            if self.resume and can_restore(str(exp_dir)):
                print(f"seed {seed}: restoring the Tune experiment {exp_dir}", file=sys.stderr)
                tuner = restore_tuner(str(exp_dir), self.trainable, self.options)
            else:
                tuner = self._fresh_tuner(seed, offset)
            tuner.fit()
        wall = time.perf_counter() - began
        write_json_atomic({"seed": seed, "wall_s": wall}, done)
        return self._outcome(seed, wall, replayed=False)

    def _outcome(self, seed: int, wall: float, replayed: bool) -> RunOutcome:
        """The seed's outcome, rebuilt from its history rows (the searcher's own incumbent)."""
        found = self._seed_rows(seed)
        rows = found if found is not None else BASE_SCHEMA.empty_table().to_pandas()
        best = None
        if len(rows):
            last = rows.iloc[-1]
            chosen = rows[rows["trial_id"] == int(last["incumbent"])]
            if len(chosen):
                row = chosen.iloc[0].to_dict()
                best = (Trial.from_fields(row), result_from_row(row))
        return RunOutcome(
            seed=seed,
            best=best,
            sim_time_s=float(rows["sim_end_s"].max()) if len(rows) else 0.0,
            wall_s=wall,
            told=len(rows),
            failed=int((rows["status"] != "ok").sum()) if len(rows) else 0,
            replayed=len(rows) if replayed else 0,
            stopped_by="finished",
        )

    def _fresh_tuner(self, seed: int, offset: float):
        """A new Tuner for ``seed``: the scoring phase first (AREA), then the Tune experiment."""
        config = self.config
        factory = SearcherFactory(
            config.algorithm, config.space, config.space_options, config.search_params(), config.constraints
        )
        trials = [t for t in (self.options.trials, config.max_evaluations) if t is not None]
        costs = None
        if config.constraints is not None:
            costs = CellCostMetrics(config.space, config.space_options, config.constraints)
        adapter = AskTellAdapter(
            factory, seed, self.base_config, max_evaluations=min(trials) if trials else None, cell_metrics=costs
        )
        clock = [offset]
        rows = TrialRows(self.run_dir, config, self.oracle, seed)
        service = None
        pool = None
        if algorithm(config.algorithm).scores:
            pool = make_pool(config.scorer_config(), config.pool_options())
            service = ScoringService(config.scorer_config(), pool, self.store, self.space, config.proxies)

        def score(trials: Sequence[Trial]) -> list[Result]:
            assert service is not None
            per_trial = service.score_many([(t.arch, config.init_seed) for t in trials])
            return [combine_scores(per_proxy, self.oracle, t.arch) for t, per_proxy in zip(trials, per_trial)]

        def told(trial: Trial, result: Result) -> None:
            if trial.kind is not Kind.SCORE:
                return
            start = clock[0]
            clock[0] += result.cost_s
            rows(trial, result, adapter.tell_count - 1, adapter.incumbent(), start, clock[0])

        adapter.score_fn = score if service is not None else None
        adapter.on_told = told
        try:
            scored = adapter.prepare()
        finally:
            if service is not None:
                service.flush()
            if pool is not None:
                pool.close()
        if scored and self.progress:
            print(f"seed {seed}: scored {scored} cells, training starts", file=sys.stderr)
        adapter.score_fn, adapter.on_told = None, None
        callback = history_callback(
            adapter,
            rows,
            EpochRows(self.run_dir),
            seed=seed,
            run_id=self.run_dir.name,
            clock_offset_s=clock[0],
        )
        return build_tuner(
            self.trainable,
            adapter,
            self.options,
            storage_path=str(self.run_dir / TUNE_DIR),
            name=f"seed-{seed}",
            budget_s=config.budget_s,
            callbacks=[callback],
            progress=self.progress,
        )


class TrialRows:
    """The history sink of one seed's Tune trials and scored cells: each row is written and flushed at
    once (a SIGKILL loses nothing told). Picklable and light (Tune pickles its callbacks with the
    experiment state): the writer and the space are made on first use in each process."""

    def __init__(self, run_dir: Path, config: ExperimentConfig, oracle: Oracle, seed: int) -> None:
        self.run_dir, self.seed = run_dir, seed
        self.algorithm, self.space_name, self.space_options = config.algorithm, config.space, config.space_options
        self.fitness_name, self.metric_names = oracle.fitness_name, tuple(oracle.metric_names)
        self._writer: HistoryWriter | None = None
        self._space: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_writer": None, "_space": None}

    def __call__(self, trial: Trial, result: Result, tell_order: int, incumbent: int, start: float, end: float):
        if self._writer is None:
            self._writer = HistoryWriter(self.run_dir, flush_every=1, metric_names=self.metric_names)
            self._space = get_space(self.space_name, **dict(self.space_options))
        if trial.kind is Kind.EVALUATE and result.ok:  # the trained accuracy is the run's one metric
            result = dataclasses.replace(result, metrics={**result.metrics, self.fitness_name: result.fitness})
        self._writer.append(
            history_row(
                run_id=self.run_dir.name,
                algorithm=self.algorithm,
                seed=self.seed,
                tell_order=tell_order,
                trial=trial,
                result=result,
                arch_key=self._space.key(self._space.parse(trial.arch)),
                fitness_name=self.fitness_name,
                sim_start_s=start,
                sim_end_s=end,
                wall_s=end,
                incumbent=incumbent,
            )
        )


class EpochRows:
    """The curves sink: one row per trained epoch into ``RUN_DIR/curves.parquet`` (flushed at once;
    picklable, the writer made on first use)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._writer: PartsWriter | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_writer": None}

    def __call__(self, row: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = PartsWriter(self.run_dir / CURVES_DIR, CURVES_SCHEMA, flush_every=1)
        self._writer.append(row)
