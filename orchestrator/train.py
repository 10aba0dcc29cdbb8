"""Train the cell a finished run chose, with NAS-Bench-201's recipe, through the same Tune trainable.

    python -m orchestrator.train RUN_DIR --epochs 200 --data-dir ~/cifar-10-batches-py --gpus-per-trial 1
    python -m orchestrator.train RUN_DIR --epochs 200 ...     # again: continues from the last checkpoint

The chosen cell is the run's final choice (``orchestrator.report.final_choices``; ``--seed`` picks
one run of several). The trial is :func:`cluster.trainable.train_cell` (SGD with Nesterov momentum,
cosine learning rate, the NB201 augmentation; a checkpoint every epoch), on a Ray Tune trial holding
``--gpus-per-trial`` GPUs; its experiment lies in ``RUN_DIR/train/seed-S``, so a second call with the
same run continues it (``Tuner.restore``) instead of starting over. Prints the per-epoch curve and
the final validation accuracy; the curve is also in ``RUN_DIR/train/seed-S.curve.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from cluster.ray_pool import ensure_ray
from cluster.trainable import METRIC, train_cell
from cluster.tuner import build_single_tuner, can_restore, restore_tuner
from orchestrator.export import chosen_cell
from orchestrator.history import read_config
from orchestrator.options import add_tune_options, tune_options_from_args
from scoring.training_data import load_training_data
from search_spaces.core.errors import NaswotError

TRAIN_DIR = "train"


def train_chosen(
    run_dir: str | Path,
    options,
    *,
    seed: int | None = None,
    data_dir: str | None = None,
    address: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train (or continue training) ``run_dir``'s chosen cell; returns one row per trained epoch.

    Raises:
        ExportError: the run chose no cell, or ``seed`` is not one of its runs.
        BenchmarkDataError: ``data_dir`` is missing or malformed (checked before Ray starts).
    """
    import ray

    run_dir = Path(run_dir).absolute()
    choice = chosen_cell(run_dir, seed)
    config = read_config(run_dir)["config"]
    settings = options.train_settings(config["space"], config["dataset"], data_dir)
    load_training_data(settings.data)  # validate, then act
    trial_config: dict[str, Any] = {
        "arch": str(choice["arch"]),
        "settings": settings.to_dict(),
        "naswot_trial": 0,
        "phase": "train",
        "parent": -1,
    }
    name = f"seed-{int(choice['seed'])}"
    storage = run_dir / TRAIN_DIR
    started = not ray.is_initialized()
    ensure_ray(address)
    try:
        if can_restore(str(storage / name)):
            print(f"continuing {storage / name}", file=sys.stderr)
            tuner = restore_tuner(str(storage / name), train_cell, options)
        else:
            tuner = build_single_tuner(
                train_cell, trial_config, options, storage_path=str(storage), name=name, progress=progress
            )
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    result = grid[0]
    if result.error is not None:
        raise NaswotError(f"training {choice['arch']} failed: {result.error}")
    curve = result.metrics_dataframe
    columns = [c for c in ("epoch", METRIC, "valid_loss", "train_loss", "train_acc", "score", "epoch_s") if c in curve]
    curve = curve[columns].reset_index(drop=True)
    curve.to_csv(storage / f"{name}.curve.csv", index=False)
    return curve


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestrator.train RUN_DIR``; returns the exit code (2: bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", help="a finished run directory")
    parser.add_argument("--seed", type=int, default=None, help="which run of the directory (needed with several)")
    parser.add_argument("--data-dir", default=None, help="a CIFAR python directory (default: the embedded images)")
    parser.add_argument("--address", default=None, help="an existing Ray cluster")
    parser.add_argument("--no-progress", action="store_true")
    add_tune_options(parser, with_oracle=False)
    args = parser.parse_args(argv)
    try:
        options = tune_options_from_args(args)
        assert options is not None  # this command always trains
        curve = train_chosen(
            args.run_dir,
            options,
            seed=args.seed,
            data_dir=args.data_dir,
            address=args.address,
            progress=not args.no_progress,
        )
    except (NaswotError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(curve.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nfinal {METRIC}: {curve[METRIC].iloc[-1]:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
