"""Ray Tune mechanics of real training: the typed options, building or restoring a ``Tuner``, and
the callback that hands finished trials and trained epochs to sinks the caller owns.

Nothing here knows a run directory's layout or the history's rows: the orchestrator's Tune driver
(``orchestrator/tune_driver.py``) owns the run and passes sinks in. Trials run
:func:`cluster.trainable.train_cell` (or a replacement), ``concurrent`` at a time, each holding the
resources Tune gave it (``gpus_per_trial`` may be a fraction); naswot never sets
``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cluster.trainable import METRIC, TrainSettings
from cluster.tune_searcher import AskTellAdapter
from scoring.training_data import DataSpec
from search_spaces.core.errors import UnknownNameError
from search_spaces.core.records import Result, Trial

SCHEDULERS = ("none", "asha")

# One row per trained epoch of a trial (epoch 0: the untrained network's score only).
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

    ``trials``: evaluations per seed (None: until the budget ends). ``concurrent``: trials at a
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

    def fitness_name(self, dataset: str) -> str:
        """The metric a trained trial reports: ``<dataset>_valid_<epochs>ep``."""
        return f"{dataset}_valid_{self.epochs}ep"

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


def error_message(trial: Any) -> str:
    """The last line of a Tune trial's error (the exception), or a generic text."""
    text = ""
    try:
        text = str(trial.get_error() or "")
    except (OSError, RuntimeError, ValueError):  # the error file is unreadable: keep the generic text
        text = ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the training trial errored"


def trial_dirname(trial: Any) -> str:
    """Short trial directory names (Tune's default embeds the whole config)."""
    return f"trial-{trial.trial_id}"


@contextmanager
def experiment_checkpoint_period(seconds: float) -> Iterator[None]:
    """Tune reads ``TUNE_GLOBAL_CHECKPOINT_S`` when its controller starts; set it for this block only."""
    previous = os.environ.get("TUNE_GLOBAL_CHECKPOINT_S")
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = str(seconds)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TUNE_GLOBAL_CHECKPOINT_S", None)
        else:
            os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = previous


# (trial, result, tell order, incumbent, start s, end s) of a finished trial, as the searcher was told it
TrialSink = Callable[[Trial, Result, int, int, float, float], None]
EpochSink = Callable[[dict[str, Any]], None]


def history_callback(
    adapter: AskTellAdapter, on_trial: TrialSink, on_epoch: EpochSink, *, seed: int, run_id: str, clock_offset_s: float
):
    """A Tune ``Callback`` that hands each finished trial to ``on_trial`` and each epoch to ``on_epoch``.

    It reads the searcher's tell of the trial from ``adapter`` (Tune calls the search algorithm's
    ``on_trial_complete`` before the callbacks), so the tell order and incumbent are the searcher's.
    The result handed on carries the trial's real training seconds as ``cost_s`` and Tune's error
    message for a trial that errored. Times are seconds since the seed's search began
    (``clock_offset_s`` continues a resumed seed). The sinks should persist at once: a SIGKILL must
    lose nothing already reported.
    """
    from ray.tune import Callback

    class _HistoryCallback(Callback):
        def __init__(self) -> None:
            self.started = time.time()

        def setup(self, stop=None, num_samples=None, total_num_samples=None, **info: Any) -> None:
            self.started = time.time()

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
                on_epoch({**base, "epoch": 0, "score": float(result.get("score_init", math.nan))})
            on_epoch(
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

        def _write(self, trial, error: str | None) -> None:
            told = adapter.told.pop(trial.trial_id, None)
            if told is None:
                return
            ours, result, tell_order, incumbent = told
            result = dataclasses.replace(
                result,
                error=error if error is not None else result.error,
                cost_s=float((trial.last_result or {}).get("time_total_s", 0.0) or 0.0),
            )
            end = self._clock()
            on_trial(ours, result, tell_order, incumbent, max(0.0, end - result.cost_s), end)

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self._write(trial, None)

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self._write(trial, error_message(trial))

    return _HistoryCallback()


def _resources(options: TuneOptions) -> dict[str, float]:
    return {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}


def build_tuner(
    trainable: Callable[[dict[str, Any]], None],
    adapter: AskTellAdapter,
    options: TuneOptions,
    *,
    storage_path: str,
    name: str,
    budget_s: float | None,
    callbacks: list[Any],
    progress: bool = True,
):
    """A new ``Tuner`` that trains the cells ``adapter`` suggests with ``trainable``.

    ``options.concurrent`` trials at a time (``max_concurrent_trials``), each with
    ``options.cpus_per_trial`` / ``options.gpus_per_trial``, ``num_samples`` = ``options.trials``
    (or until ``budget_s`` real seconds, Tune's ``time_budget_s``), retries per
    ``options.max_failures``, ASHA when ``options.scheduler`` says so; experiment state under
    ``storage_path/name``.
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    scheduler = None
    if options.scheduler == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=options.epochs,
            grace_period=1,
            reduction_factor=options.reduction_factor,
        )
    return tune.Tuner(
        tune.with_resources(trainable, _resources(options)),
        tune_config=tune.TuneConfig(
            search_alg=adapter,
            scheduler=scheduler,
            metric=METRIC,
            mode="max",
            num_samples=-1 if options.trials is None else options.trials,
            max_concurrent_trials=options.concurrent,
            time_budget_s=budget_s,
            reuse_actors=True,  # a new trial in a warm worker skips importing torch (seconds on a small CPU)
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            storage_path=storage_path,
            name=name,
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=callbacks,
            verbose=1 if progress else 0,
        ),
    )


def can_restore(path: str) -> bool:
    """Whether ``path`` holds a Tune experiment that ``restore_tuner`` can continue."""
    from ray import tune

    return bool(tune.Tuner.can_restore(path))


def restore_tuner(path: str, trainable: Callable[[dict[str, Any]], None], options: TuneOptions):
    """The ``Tuner`` of the experiment at ``path``, continued (``Tuner.restore``): finished trials are
    not trained again, running ones continue from their last checkpoint, and the search algorithm
    (with its searcher) comes back from Tune's experiment state."""
    from ray import tune

    return tune.Tuner.restore(path, trainable=tune.with_resources(trainable, _resources(options)), resume_errored=False)


def build_single_tuner(
    trainable: Callable[[dict[str, Any]], None],
    config: dict[str, Any],
    options: TuneOptions,
    *,
    storage_path: str,
    name: str,
    progress: bool = True,
):
    """A ``Tuner`` that trains one fixed trial (``config``: the trainable's config) with the
    resources, retries and checkpointing of ``options``; its experiment lies under ``storage_path/name``
    (continue it with :func:`restore_tuner`)."""
    from ray import tune

    return tune.Tuner(
        tune.with_resources(trainable, _resources(options)),
        param_space=config,
        tune_config=tune.TuneConfig(metric=METRIC, mode="max", num_samples=1, trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            storage_path=storage_path,
            name=name,
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=1 if progress else 0,
        ),
    )
