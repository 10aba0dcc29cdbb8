"""Assisted regularised evolution (AREA): score M random cells, seed REA's population with the best
P scores, then evolve on accuracy, within a budget that also pays for the scoring.

    python -m orchestrator.area --workers 8
"""

from __future__ import annotations

from orchestrator.cli import main_for


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return main_for("area", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
