"""NASWOT search: score N random untrained cells, keep the best (Mellor et al., 2021).

python -m orchestrator.naswot --n 100 --runs 500
"""

from __future__ import annotations

from orchestrator.cli import main_for


def _add(parser) -> None:
    parser.add_argument("--n", type=int, default=100, help="cells scored per run")


def main(argv: list[str] | None = None) -> int:
    return main_for("naswot", __doc__, _add, lambda a: {"n": a.n}, argv)


if __name__ == "__main__":
    raise SystemExit(main())
