"""Ship scores that took hours to compute: copy store records into ``scoring/shipped_scores/``.

    python -m scoring.ship_scores --space nb101 --proxies naswot \\
        --name nb101-cifar10-naswot --command "python -m scoring.sweep --space nb101 --naswot-runs 30"

Every store then answers those keys without scoring (:mod:`scoring.store`, "Shipped scores"). The
file's Parquet metadata records the command that recomputes it, the naswot version and git commit,
the date and the hardware; the key of every record holds the images' content hash, batch, seeds,
build options and proxy. ``tests/test_shipped_scores.py`` re-scores a random subset of every shipped
file and finds the same values.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import subprocess
from importlib import metadata
from pathlib import Path

from scoring.scorer import ScorerConfig
from scoring.store import DEFAULT_STORE, SHIPPED_DIR, ScoreKey, ScoreRecord, ScoreStore, write_shipped
from search_spaces.core.status import Status


def code_version() -> str:
    """``naswot <version> <git commit>`` of the running code (the commit only inside a git checkout)."""
    try:
        version = metadata.version("naswot")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "no-git"
    return f"naswot {version} {commit}"


def _option_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def scorer_config_of(key: ScoreKey) -> ScorerConfig:
    """The scorer configuration that computes ``key`` on the embedded images (the key's ``images``
    hash must then equal ``config.images_hash(proxy)``; a ``+noise`` proxy is scored on noise).

    Raises:
        ValueError / UnknownNameError: the key names a dataset, proxy or option this naswot lacks.
    """
    proxy, _, inputs = key.proxy.partition("+")
    options = tuple(
        (name, _option_value(value))
        for name, _, value in (item.partition("=") for item in key.build.split(",") if item)
    )
    return ScorerConfig(
        key.space,
        key.dataset,
        key.batch_size,
        key.batch_seed,
        None,
        proxy=proxy,
        inputs=inputs or "images",
        space_options=options,
    )


def select(records: list[ScoreRecord], space: str, proxies: set[str] | None, dataset: str | None) -> list[ScoreRecord]:
    """The finished records of ``space`` (and ``proxies``, ``dataset`` when given); failed ones are
    left out (a shipped failure would stop a user's run from retrying)."""
    return [
        r
        for r in records
        if r.key.space == space
        and r.status is not Status.FAILED
        and (proxies is None or r.key.proxy in proxies)
        and (dataset is None or r.key.dataset == dataset)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="the store to copy from")
    parser.add_argument("--space", required=True)
    parser.add_argument("--proxies", default=None, help="comma-separated store proxy names (default: all)")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--name", required=True, help="file name (without .parquet) under scoring/shipped_scores/")
    parser.add_argument("--command", required=True, help="the command that recomputes these scores")
    args = parser.parse_args(argv)
    store = ScoreStore(args.store, shipped=False)
    proxies = set(args.proxies.split(",")) if args.proxies else None
    records = select(store.records(), args.space, proxies, args.dataset)
    if not records:
        parser.error(f"no finished {args.space} records in {args.store} match")
    hardware = sorted({r.hardware for r in records if r.hardware})
    path = write_shipped(
        records,
        SHIPPED_DIR / f"{args.name}.parquet",
        command=args.command,
        code=code_version(),
        created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        hardware="; ".join(hardware),
    )
    print(f"{len(records)} records -> {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
