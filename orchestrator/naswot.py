"""NASWOT search: score N random untrained cells, keep the best (Mellor et al., 2021).

python -m orchestrator.naswot --n 100 --runs 500
"""

from __future__ import annotations

from orchestrator.cli import main_for


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return main_for("naswot", __doc__ or "", argv)


if __name__ == "__main__":
    raise SystemExit(main())
