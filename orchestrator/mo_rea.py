"""Multi-objective regularised evolution: accuracy against one recorded cost (latency by default).

python -m orchestrator.mo_rea --latency-device hwnb_pixel3 --runs 20 --budget 12000
python -m orchestrator.mo_rea --latency-device hwnb_pixel3 --objective-cost cell_params_m --selection hvc

The search's fitness is the benchmark's (NAS-Bench-201: 12-epoch validation accuracy); the cost is
read from each candidate's recorded costs. Judge the found front with
``python -m orchestrator.report --pareto RUN_DIR``.
"""

from __future__ import annotations

from orchestrator.cli import main_for


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return main_for("mo_rea", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
