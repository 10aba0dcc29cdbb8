"""Assisted regularised evolution (AREA): score M random cells, seed REA's population with the best
P scores, then evolve on accuracy, within a simulated time budget that also pays for the scoring.

    python -m orchestrator.area --workers 8
"""

from __future__ import annotations

from orchestrator.cli import main_for
from orchestrator.rea import add_evolution_arguments, evolution_options


def _add(parser) -> None:
    add_evolution_arguments(parser)
    parser.add_argument("--m", type=int, default=20, help="cells scored before evolution (M)")


def main(argv: list[str] | None = None) -> int:
    return main_for("area", __doc__, _add, lambda a: {**evolution_options(a), "m": a.m}, argv)


if __name__ == "__main__":
    raise SystemExit(main())
