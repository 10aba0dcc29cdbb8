"""Random search on the benchmark within a simulated time budget.

python -m orchestrator.random_search --runs 50 --budget 12000
"""

from __future__ import annotations

from orchestrator.cli import main_for


def _add(parser) -> None:
    parser.add_argument("--budget", type=float, default=12000.0, help="simulated seconds per run")


def main(argv: list[str] | None = None) -> int:
    return main_for("random", __doc__, _add, lambda a: {"budget_s": a.budget}, argv)


if __name__ == "__main__":
    raise SystemExit(main())
