"""The NASWOT score during training (the paper's figure): train N random cells, score every epoch.

    python -m orchestrator.during_training --nets 10 --epochs 12
    python -m orchestrator.during_training --from runs/<id>          # redraw the figure of a finished run

The cells are trained by Ray Tune through the same trainable as ``--oracle tune`` searches
(``cluster.trainable.train_cell``: NAS-Bench-201's recipe, the NASWOT score of the network after
every epoch, epoch 0 = at initialisation), as a random-search run whose ``curves.parquet`` the figure
is drawn from: score against epoch for each net (coloured by its final validation accuracy), and
validation accuracy against epoch. It prints the Kendall tau between the score at each epoch and the
final validation accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd

from orchestrator.config import ExperimentConfig
from orchestrator.experiment import new_run_dir, run_experiment
from orchestrator.history import CURVES_DIR, load_curves
from orchestrator.options import add_tune_options, tune_options_from_args
from scoring.options import add_seed_option
from search_spaces.core.errors import NaswotError

FIGURE = "score_during_training.png"


def score_accuracy_tau(curves: pd.DataFrame) -> pd.DataFrame:
    """Per epoch: Kendall tau between the nets' scores at that epoch and their final validation accuracy."""
    from scipy.stats import kendalltau

    trained = curves[curves["epoch"] >= 1]
    final = trained.sort_values("epoch").groupby("trial_id")["valid_acc"].last()
    rows = []
    for epoch, group in curves.groupby("epoch"):
        group = group.drop_duplicates("trial_id", keep="last").set_index("trial_id")
        common = group.index.intersection(final.index)
        tau = kendalltau(group.loc[common, "score"], final.loc[common]).statistic if len(common) > 1 else float("nan")
        rows.append({"epoch": int(epoch), "nets": len(common), "tau_score_vs_final_acc": float(tau)})
    return pd.DataFrame(rows)


def plot_curves(curves: pd.DataFrame, path: str | Path) -> Path:
    """Draw score against epoch (one line per net, coloured by final accuracy) and accuracy against epoch.

    Raises:
        ValueError: ``curves`` has no trained epoch.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = curves[curves["epoch"] >= 1]
    if trained.empty:
        raise ValueError("the curves have no trained epoch to draw")
    final = trained.sort_values("epoch").groupby("trial_id")["valid_acc"].last()
    norm = matplotlib.colors.Normalize(vmin=float(final.min()), vmax=max(float(final.max()), float(final.min()) + 1e-9))
    cmap = matplotlib.colormaps["viridis"]
    fig, (ax_score, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for trial_id, group in curves.groupby("trial_id"):
        group = group.drop_duplicates("epoch", keep="last").sort_values("epoch")
        colour = cmap(norm(final.get(trial_id, float(final.min()))))
        ax_score.plot(group["epoch"], group["score"], marker="o", ms=3, color=colour)
        acc = group[group["epoch"] >= 1]
        ax_acc.plot(acc["epoch"], acc["valid_acc"], marker="o", ms=3, color=colour)
    ax_score.set(
        xlabel="epoch (0 = untrained)", ylabel="NASWOT score", title=f"score during training, {len(final)} nets"
    )
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title="accuracy")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=[ax_score, ax_acc], label="final valid acc (%)")
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestrator.during_training``; returns the exit code (2: bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator.during_training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--nets", type=int, default=10, help="random cells to train")
    add_seed_option(parser, "seed of the random cells")
    parser.add_argument("--dataset", choices=["cifar10", "cifar100"], default="cifar10")
    parser.add_argument("--data-dir", default=None, help="a CIFAR python directory (default: embedded images)")
    parser.add_argument("--address", default=None, help="an existing Ray cluster")
    add_tune_options(parser, with_oracle=False)
    parser.add_argument("--out", default="runs", help="where the run directory is created")
    parser.add_argument("--from", dest="from_run", default=None, metavar="RUN_DIR", help="only redraw this run")
    parser.add_argument("--plot", default=None, help=f"figure path (default: RUN_DIR/{FIGURE})")
    args = parser.parse_args(argv)
    try:
        if args.from_run:
            run_dir = Path(args.from_run)
        else:
            options = tune_options_from_args(args)
            assert options is not None  # this command has no --oracle: it always trains
            if args.trials is None:
                options = dataclasses.replace(options, trials=args.nets)
            config = ExperimentConfig(
                algorithm="random",
                seed=args.seed,
                budget_s=1e9,
                dataset=args.dataset,
                data_dir=args.data_dir,
                address=args.address,
                store=None,
                executor="inline",
                oracle="tune",
                tune=options,
            )
            run_dir = new_run_dir(args.out, "during-training")
            print(f"run directory: {run_dir}", file=sys.stderr)
            run_experiment(config, run_dir, progress=False)
        curves = load_curves(run_dir)
        path = plot_curves(curves, args.plot or Path(run_dir) / FIGURE)
    except (NaswotError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(score_accuracy_tau(curves).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nfigure: {path}\ncurves: {Path(run_dir) / CURVES_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
