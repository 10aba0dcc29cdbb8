"""Command-line options about spaces, defined once: ``--space``, ``--benchmark``, ``--stem-channels``
and ``--seed``. Help texts come from the space registry, so a new space needs no edit here."""

from __future__ import annotations

import argparse

from search_spaces.core.registry import available_spaces, space_entry

DEFAULT_SPACE = "nb201"


def add_seed_option(parser: argparse.ArgumentParser, help: str = "seed") -> None:
    """``--seed`` (an int, default 0); ``help`` says what it seeds in this command."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_space_options(parser: argparse.ArgumentParser) -> None:
    """``--space``, ``--benchmark`` and ``--stem-channels``."""
    spaces = available_spaces()
    parser.add_argument("--space", choices=spaces, default=DEFAULT_SPACE, help="search space")
    takes = "; ".join(
        f"{name}: {space_entry(name).benchmark_help}" for name in spaces if space_entry(name).benchmark_help
    )
    parser.add_argument(
        "--benchmark",
        default=None,
        help=f"the space's benchmark file or directory (default: the embedded table, if any). {takes}",
    )
    with_stem = [n for n in spaces if "stem_channels" in space_entry(n).build_options]
    parser.add_argument(
        "--stem-channels",
        type=int,
        default=None,
        help=f"stem width of the networks ({', '.join(with_stem)}; default: the benchmark's)",
    )


def space_options_from_args(args: argparse.Namespace) -> tuple[tuple[str, int], ...]:
    """The space constructor options the arguments ask for (``ScorerConfig.space_options``).

    Raises:
        ValueError: ``--stem-channels`` is not positive, or the space has no stem width option.
    """
    stem = getattr(args, "stem_channels", None)
    if stem is None:
        return ()
    if stem < 1:
        raise ValueError(f"--stem-channels must be positive, got {stem}")
    space = getattr(args, "space", DEFAULT_SPACE)
    if "stem_channels" not in space_entry(space).build_options:
        raise ValueError(f"--stem-channels: space {space!r} has no stem width option")
    return (("stem_channels", int(stem)),)
