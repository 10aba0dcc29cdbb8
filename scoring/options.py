"""Command-line options shared by every naswot command that scores cells, defined once.

``orchestrator.<algorithm>``, ``orchestrator.correlate``, ``scoring.sweep`` and ``scoring.bench`` add
them with these functions, so a flag means the same thing (and has the same default) everywhere.
The space options (``--space``, ``--benchmark``, ``--stem-channels``, ``--seed``) live one floor
down, in :mod:`search_spaces.core.options`, and are re-exported here.
"""

from __future__ import annotations

import argparse

from scoring.data import DATASETS
from scoring.store import DEFAULT_STORE
from search_spaces.core.options import add_seed_option, add_space_options, space_options_from_args

__all__ = [
    "add_image_options",
    "add_seed_option",
    "add_space_options",
    "add_store_options",
    "space_options_from_args",
    "store_from_args",
]


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
    """``--store``, ``--no-store`` and ``--no-shipped-scores``."""
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="shared score store directory")
    parser.add_argument("--no-store", action="store_true", help="score every cell afresh, cache nothing")
    parser.add_argument(
        "--no-shipped-scores",
        action="store_true",
        help="do not answer from the scores shipped with naswot (scoring/shipped_scores; see its PROVENANCE.md)",
    )


def store_from_args(args: argparse.Namespace) -> str | None:
    """The store directory the options ask for, or None with ``--no-store``."""
    return None if args.no_store else args.store
