"""Regularised (aging) evolution on the benchmark, on a simulated time budget.

python -m orchestrator.rea --runs 50 --budget 12000
"""

from __future__ import annotations

from orchestrator.cli import main_for


def add_evolution_arguments(parser) -> None:
    parser.add_argument("--budget", type=float, default=12000.0, help="simulated seconds per run")
    parser.add_argument("--population", type=int, default=10, help="population size P")
    parser.add_argument("--sample-size", type=int, default=3, help="tournament size S (NAS-Bench-201's REA: 3)")


def evolution_options(args) -> dict:
    return {"budget_s": args.budget, "population_size": args.population, "sample_size": args.sample_size}


def main(argv: list[str] | None = None) -> int:
    return main_for("rea", __doc__, add_evolution_arguments, evolution_options, argv)


if __name__ == "__main__":
    raise SystemExit(main())
