"""Random search: evaluate random cells until the budget ends.

python -m orchestrator.random_search --runs 50 --budget 12000
"""

from __future__ import annotations

from orchestrator.cli import main_for


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return main_for("random", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
