"""Command-line options shared by every naswot command that scores cells, defined once.

``orchestrator.<algorithm>``, ``orchestrator.correlate``, ``scoring.sweep`` and ``scoring.bench`` add
them with these functions, so a flag means the same thing (and has the same default) everywhere.
"""

from __future__ import annotations

import argparse

from scoring.data import DATASETS
from scoring.store import DEFAULT_STORE


def add_space_options(parser: argparse.ArgumentParser) -> None:
    """``--space``, ``--benchmark`` and ``--stem-channels``."""
    parser.add_argument("--space", default="nb201", help="search space (see search_spaces.available_spaces())")
    parser.add_argument(
        "--benchmark",
        default=None,
        help="a benchmark file or directory of the space (NB201: a NATS-Bench tss directory; NB101: "
        "nasbench_only108.tfrecord; nats_sss: a NATS-Bench sss directory; default: the embedded table, if any)",
    )
    parser.add_argument(
        "--stem-channels",
        type=int,
        default=None,
        help="stem width of the networks, for spaces that have one (nb101; default: the benchmark's, 128)",
    )


def space_options_from_args(args: argparse.Namespace) -> tuple[tuple[str, int], ...]:
    """The space constructor options the arguments ask for (``ScorerConfig.space_options``)."""
    stem = getattr(args, "stem_channels", None)
    if stem is None:
        return ()
    if stem < 1:
        raise ValueError(f"--stem-channels must be positive, got {stem}")
    return (("stem_channels", int(stem)),)


def add_image_options(
    parser: argparse.ArgumentParser, *, several_datasets: bool = False, init_seed: bool = True
) -> None:
    """``--dataset``, ``--batch-size``, ``--batch-seed``, ``--init-seed`` and ``--data-dir``.

    ``several_datasets``: ``--dataset`` takes a comma list (studies); ``init_seed=False`` leaves out
    ``--init-seed`` (for commands that take several initialisations instead)."""
    if several_datasets:
        parser.add_argument("--dataset", default="cifar10", help=f"{', '.join(DATASETS)}, or a comma list")
    else:
        parser.add_argument(
            "--dataset", choices=list(DATASETS), default="cifar10", help="images the cells are scored on"
        )
    parser.add_argument("--batch-size", type=int, default=128, help="images per scoring minibatch")
    parser.add_argument("--batch-seed", type=int, default=0, help="which minibatch of the image pool")
    if init_seed:
        parser.add_argument("--init-seed", type=int, default=0, help="initialisation seed of scored networks")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="cifar-10-batches-py / cifar-100-python / ImageNet16 batch directory (default: the embedded images)",
    )


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--store`` and ``--no-store``."""
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="shared score store directory")
    parser.add_argument("--no-store", action="store_true", help="score every cell afresh, cache nothing")


def store_from_args(args: argparse.Namespace) -> str | None:
    """The store directory the options ask for, or None with ``--no-store``."""
    return None if args.no_store else args.store
