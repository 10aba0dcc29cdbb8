"""Few-query search (``guided_ls``): score M random cells training-free, then hill-climb on accuracy
through the incumbent's best-scored neighbours, within a budget of queries or seconds that also
pays for the scoring (:mod:`orchestrator.guided_search`).

    python -m orchestrator.guided_ls --ensemble naswot,synflow,params --max-evaluations 20 --runs 50
"""

from __future__ import annotations

from orchestrator.cli import main_for


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return main_for("guided_ls", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
