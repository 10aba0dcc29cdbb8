"""Regularised (aging) evolution on the benchmark, within a budget of (simulated) seconds or evaluations.

python -m orchestrator.rea --runs 50 --budget 12000
python -m orchestrator.rea --space nb101 --max-evaluations 150 --runs 50
"""

from __future__ import annotations

from orchestrator.cli import main_for


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return main_for("rea", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
