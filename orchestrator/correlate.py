"""The correlation study: how well training-free proxies rank untrained networks.

    python -m orchestrator.correlate --dataset cifar10 --n 1000 --proxies naswot,grad_norm,synflow --out runs/corr
    python -m orchestrator.correlate --space nb101 --naswot-runs 30 --n 1000 --proxies naswot --out runs/corr_nb101

Samples N distinct cells of any registered space (``--space``; from the benchmark's cells when it
holds only a sample), scores each with every proxy on the dataset's real images (in this process, or
on Ray scoring actors with ``--executor ray --workers N``, started only if some score is not stored
yet), keeps every per-cell score in the shared score store (a second
run with the same settings recomputes nothing) and in OUT/scores.parquet, and prints Kendall tau and
Spearman rho of each proxy against validation and test accuracy, with the cells whose score was
non-finite or failed. Figures: OUT/scatter_<dataset>.png and OUT/tau.png.

It prints the protocol above the table (cells and their seed, accuracies, images with their content
hash, initialisations, build), so figures from different runs compare. ``--naswot-runs K`` takes
the first ``--n`` distinct cells NASWOT runs 0..K-1 draw instead of random ones: the study and the runs then share
cells, so one sweep (``scoring.sweep --naswot-runs K``) pays for both.

Ablations of the paper: --batch-size, --batch-seed (another minibatch), --inputs noise (Gaussian
inputs), --inits k (mean score over k initialisations). --ensemble a,b,c adds a rank ensemble.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.config import PoolOptions
from orchestrator.options import add_pool_options, pool_options_from_args
from orchestrator.pools import LazyPool, make_pool
from scoring.correlation import correlate, rank_ensemble
from scoring.options import (
    add_image_options,
    add_seed_option,
    add_space_options,
    add_store_options,
    space_options_from_args,
)
from scoring.proxies import available_proxies, check_proxy_space
from scoring.scorer import INPUT_KINDS, ScorerConfig
from scoring.service import ScoringService
from scoring.store import ScoreStore
from search_spaces import get_space, open_benchmark
from search_spaces.core.cells import naswot_run_cells, random_cells
from search_spaces.core.errors import NaswotError

ACCURACIES = ("valid", "test")


def score_proxy(
    space,
    archs: list,
    config: ScorerConfig,
    inits: int,
    store: ScoreStore | None,
    pool_options: PoolOptions,
    progress: bool = True,
) -> pd.DataFrame:
    """Per-cell scores of one proxy (one row per cell and init), from the store or computed.

    Scores go through ``scoring.service.ScoringService`` (store first, then the pool); the store is
    flushed after every chunk, so an interrupted study keeps what it scored.
    """
    texts = [space.format(a) for a in archs]
    keys = [space.key(a) for a in archs]
    requests = [(t, s) for t in texts for s in range(inits)]
    pool = LazyPool(lambda: make_pool(config, pool_options))  # no actor starts when every score is stored
    service = ScoringService(config, pool, store, space, check_hardware=False)  # a study charges no budget
    records = []
    try:
        chunk = max(1, 4 * pool_options.workers)
        iterator = range(0, len(requests), chunk)
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc=f"{config.dataset} {config.store_proxy}", unit="chunk", file=sys.stderr)
        for start in iterator:
            for record, cached in (r[0] for r in service.score_many(requests[start : start + chunk])):
                records.append((record, cached))
            service.flush()
    finally:
        pool.close()
        service.flush()
    rows = []
    for (text, seed), key, (r, cached) in zip(requests, [k for k in keys for _ in range(inits)], records):
        rows.append(
            {
                "arch": text,
                "arch_key": key,
                "proxy": config.store_proxy,
                "dataset": config.dataset,
                "init_seed": seed,
                "score": r.score,
                "score_s": r.score_s,
                "cached": cached,
                "status": r.status.value,
                "error": r.error,
            }
        )
    return pd.DataFrame(rows)


def accuracies(benchmark, archs: list, dataset: str) -> dict[str, np.ndarray]:
    """``{"valid": ..., "test": ...}``: the benchmark's ``<dataset>_valid`` / ``<dataset>_test`` of
    each cell; NaN where the benchmark has no such metric or no record of the cell."""
    names = {m.name for m in benchmark.metrics}
    out = {split: np.full(len(archs), np.nan) for split in ACCURACIES}
    for i, arch in enumerate(archs):
        try:
            values = benchmark.lookup(arch)
        except KeyError:  # ArchitectureNotInBenchmarkError: left out of the correlation
            continue
        for split in ACCURACIES:
            name = f"{dataset}_{split}"
            if name in names:
                out[split][i] = values.get(name, np.nan)
    return out


def study(args) -> tuple[pd.DataFrame, pd.DataFrame]:
    options = dict(space_options_from_args(args))
    space = get_space(args.space, **options)
    benchmark = open_benchmark(space, args.benchmark)
    if benchmark is None:
        raise NaswotError(f"space {args.space!r} has no benchmark to correlate with: give --benchmark PATH")
    sample = benchmark.cells()
    if args.naswot_runs or args.n < 1:
        if args.n < 1:
            raise ValueError(f"--n must be at least 1, got {args.n}")
        archs = naswot_run_cells(space, args.naswot_runs, args.naswot_n, sample)[: args.n]
    else:
        archs = random_cells(space, args.n, args.seed, sample)
    if sample is not None:
        print(
            f"{benchmark.name} holds {len(sample)} cells of {args.space}: correlating {len(archs)} of them",
            file=sys.stderr,
        )
    keys = [space.key(a) for a in archs]
    store = None if args.no_store else ScoreStore(args.store, shipped=not args.no_shipped_scores)
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    ensemble = [p.strip() for p in args.ensemble.split(",") if p.strip()] if args.ensemble else []
    for p in proxies + ensemble:
        check_proxy_space(p, args.space)
    needed = list(dict.fromkeys(proxies + ensemble))
    score_frames, corr_rows = [], []
    measured: dict[str, list[str]] = {}  # dataset -> the accuracies the benchmark has for these cells
    fusion_rows: list[dict] = []
    for dataset in [d.strip() for d in args.dataset.split(",")]:
        per_cell = pd.DataFrame({"arch_key": keys})
        for split, values in accuracies(benchmark, archs, dataset).items():
            per_cell[split] = values
            if np.isfinite(values).any():
                measured.setdefault(dataset, []).append(split)
        for proxy in needed:
            config = ScorerConfig(
                args.space,
                dataset,
                args.batch_size,
                args.batch_seed,
                args.data_dir,
                proxy=proxy,
                inputs=args.inputs,
                space_options=tuple(options.items()),
            )
            scores = score_proxy(
                space, archs, config, args.inits, store, pool_options_from_args(args), not args.no_progress
            )
            score_frames.append(scores)
            mean = scores.groupby("arch_key", sort=False)["score"].mean()
            failed = scores.groupby("arch_key", sort=False)["status"].apply(lambda s: (s == "failed").any())
            per_cell[proxy] = mean.reindex(keys).to_numpy()
            per_cell[f"{proxy}__failed"] = failed.reindex(keys).to_numpy()
        names = list(proxies)
        if ensemble:
            label = "ensemble(" + "+".join(ensemble) + ")"
            per_cell[label] = rank_ensemble({p: per_cell[p].to_numpy() for p in ensemble})
            per_cell[f"{label}__failed"] = np.zeros(len(per_cell), dtype=bool)
            names.append(label)
        for name in names:
            for split in ACCURACIES:
                c = correlate(per_cell[name], per_cell[split])
                nonfinite = int((~np.isfinite(per_cell[name].to_numpy(dtype=float))).sum())
                corr_rows.append(
                    {
                        "dataset": dataset,
                        "proxy": name,
                        "accuracy": split,
                        "kendall_tau": c.kendall_tau,
                        "spearman_rho": c.spearman_rho,
                        "cells": c.cells,
                        "nonfinite": nonfinite - int(per_cell[f"{name}__failed"].sum()),
                        "failed": int(per_cell[f"{name}__failed"].sum()),
                    }
                )
        if args.out and not args.no_plots:
            plot_scatter(per_cell, names, dataset, Path(args.out) / f"scatter_{dataset}.png")
        if args.fit_fusion:
            fusion_rows.extend(fit_and_report_fusion(per_cell, proxies, dataset, args.seed))
    corr = pd.DataFrame(corr_rows)
    if fusion_rows:
        corr = pd.concat([corr, pd.DataFrame(fusion_rows)], ignore_index=True)
    print(protocol(args, space, benchmark, len(archs), measured))
    return pd.concat(score_frames, ignore_index=True), corr


RANK_REGRESSION = "rankreg(all)"  # the fusion row of scoring.fusion.select_rank_regression over every proxy
FUSION_SPLIT = "report half"  # the cells column of the fusion rows says where they were measured


def fit_and_report_fusion(per_cell: pd.DataFrame, proxies: list[str], dataset: str, seed: int) -> list[dict]:
    """Fit a weighted log-rank fusion of ``proxies`` on a random half of the cells (against their
    validation accuracy, else test), then report every proxy, the plain log-rank fusion of all of
    them, and the fitted fusion on the *other* half only (rows with ``accuracy`` suffixed
    ``@report``). The split is drawn from ``seed + 1``; the fit never sees a reported cell."""
    from scoring.fusion import fit_log_rank_fusion, log_rank_fusion, select_rank_regression

    n = len(per_cell)
    order = np.random.default_rng(seed + 1).permutation(n)
    fit, report = np.sort(order[: n // 2]), np.sort(order[n // 2 :])
    target = "valid" if np.isfinite(per_cell["valid"].to_numpy(dtype=float)).sum() >= 3 else "test"
    columns = {p: per_cell[p].to_numpy(dtype=float) for p in proxies}
    fitted = fit_log_rank_fusion({p: v[fit] for p, v in columns.items()}, per_cell[target].to_numpy(dtype=float)[fit])
    members = "+".join(f"{w:g}*{m}" for m, w in fitted.weights)
    scored = dict(columns)
    scored[f"logrank({'+'.join(proxies)})"] = np.full(n, np.nan)
    scored[f"fitted({members})"] = np.full(n, np.nan)
    scored[f"logrank({'+'.join(proxies)})"][report] = log_rank_fusion({p: v[report] for p, v in columns.items()})
    scored[f"fitted({members})"][report] = fitted.apply({p: v[report] for p, v in columns.items()})
    regression, cv_taus = select_rank_regression(
        {p: v[fit] for p, v in columns.items()}, per_cell[target].to_numpy(dtype=float)[fit], seed=seed
    )
    scored[RANK_REGRESSION] = np.full(n, np.nan)
    scored[RANK_REGRESSION][report] = regression.apply({p: v[report] for p, v in columns.items()})
    rows = []
    for name, values in scored.items():
        for split in ACCURACIES:
            c = correlate(values[report], per_cell[split].to_numpy(dtype=float)[report])
            rows.append(
                {
                    "dataset": dataset,
                    "proxy": name,
                    "accuracy": f"{split}@report",
                    "kendall_tau": c.kendall_tau,
                    "spearman_rho": c.spearman_rho,
                    "cells": c.cells,
                    "nonfinite": int((~np.isfinite(values[report])).sum()),
                    "failed": 0,
                }
            )
    print(
        f"{dataset}: fusion fitted on {len(fit)} cells against {target} accuracy (split seed {seed + 1}): "
        f"{members or 'no member'}; {RANK_REGRESSION}: degree {regression.degree} (2-fold CV tau inside the fit "
        f"half: "
        + ", ".join(f"degree {d} {t:.3f}" for d, t in cv_taus.items())
        + "), weights "
        + regression.describe()
        + f"; every '@report' row is measured on the other {len(report)} cells",
        file=sys.stderr,
    )
    return rows


def protocol(args, space, benchmark, cells: int, measured: dict[str, list[str]]) -> str:
    """The study's protocol as printed above its table: which cells, which accuracies, which images,
    initialisations and build, so figures from different runs can be compared."""
    size = space.size
    if args.naswot_runs:
        chosen = (
            f"{cells} distinct cells of {args.space}: the first that NASWOT runs 0..{args.naswot_runs - 1} with "
            f"N={args.naswot_n} sample (run r draws from numpy default_rng(SeedSequence(r)); shared with `orchestrator.naswot`)"
        )
    else:
        chosen = (
            f"{cells} distinct random cells of {args.space} (numpy default_rng({args.seed}), uniform without replacement"
            + (f" over {benchmark.name}'s {len(benchmark.cells())} cells)" if benchmark.cells() is not None else "")
            + (f" over all {size:,} cells)" if benchmark.cells() is None and size else "")
            + ("" if benchmark.cells() is not None or size else ")")
        )
    specs = {m.name: m for m in benchmark.metrics}
    lines = ["protocol", f"  cells     {chosen}"]
    for dataset in [d.strip() for d in args.dataset.split(",")]:
        have = [f"{split} ({specs[f'{dataset}_{split}'].description})" for split in measured.get(dataset, [])]
        missing = [split for split in ACCURACIES if split not in measured.get(dataset, [])]
        note = f"; no {' or '.join(missing)} accuracy in {benchmark.name} for these cells" if missing else ""
        lines.append(f"  accuracy  {dataset}: " + ("; ".join(have) if have else "none") + note)
        config = ScorerConfig(args.space, dataset, args.batch_size, args.batch_seed, args.data_dir, inputs=args.inputs)
        source = args.data_dir or "the embedded images"
        lines.append(
            f"  images    {dataset}: {args.batch_size} {args.inputs} from {source}, batch seed {args.batch_seed}, "
            f"content hash {config.images_hash()} (loss-based proxies: an in-class batch of the same size)"
        )
    build = ",".join(f"{k}={v}" for k, v in space_options_from_args(args)) or "the space's defaults"
    lines.append(
        f"  networks  {args.inits} initialisation(s) per cell (init seeds 0..{args.inits - 1}, score = their mean); build: {build}"
    )
    return "\n".join(lines)


def plot_scatter(per_cell: pd.DataFrame, names: list[str], dataset: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = "valid" if per_cell["valid"].notna().any() else "test"
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        v = per_cell[name].to_numpy(dtype=float)
        keep = np.isfinite(v) & per_cell[split].notna().to_numpy()
        x, label = v[keep], "score"
        positive = x[x > 0]
        if (
            len(positive) == len(x) - int((x == 0).sum())
            and len(positive) > 2
            and positive.max() / positive.min() > 100
        ):
            keep = keep & (v > 0)  # spans two or more decades: show log10 (zeros left out)
            zeros = int((x == 0).sum())
            x, label = np.log10(v[keep]), "log10 score" + (f" ({zeros} zeros not shown)" if zeros else "")
        ax.scatter(x, per_cell[split].to_numpy()[keep], s=4, alpha=0.4)
        c = correlate(per_cell[name], per_cell[split])
        ax.set_title(f"{name}: tau {c.kendall_tau:.3f}")
        ax.set_xlabel(label)
        ax.set_ylabel(f"{dataset} {split} accuracy (%)")
        ax.set_ylim(bottom=max(0.0, float(np.nanpercentile(per_cell[split], 1)) - 5))
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _bar_label(proxy: str) -> str:
    """A fusion's bar label by its kind (a fitted fusion's members differ per dataset, so one group
    of bars holds each dataset's own fit); a proxy's label is its name."""
    if proxy == RANK_REGRESSION:
        return "rank\nregression\n(fitted)"
    if proxy.startswith("fitted("):
        return "greedy\nlog-rank\n(fitted)"
    if proxy.startswith("logrank("):
        return "log-rank\nof all"
    return proxy


def tau_bar_rows(corr: pd.DataFrame) -> list[tuple[str, str, float, str]]:
    """(dataset, bar label, tau, accuracy) of each bar of the tau figure. With a fitted fusion
    every bar of its dataset is measured on the report half (the cells the fusions are measured
    on); else on the first accuracy with a finite tau: validation, else test."""
    rows = []
    for (dataset, proxy), g in corr.groupby(["dataset", "proxy"], sort=False):
        reported = corr[(corr["dataset"] == dataset) & corr["accuracy"].str.endswith("@report")]
        order = ("valid@report", "test@report") if len(reported) else ("valid", "test")
        for accuracy in order:
            pick = g[(g["accuracy"] == accuracy) & g["kendall_tau"].notna()]
            if len(pick):
                rows.append((dataset, _bar_label(str(proxy)), float(pick["kendall_tau"].iloc[0]), accuracy))
                break
    return rows


def plot_tau_bars(corr: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = tau_bar_rows(corr)
    datasets = list(dict.fromkeys(r[0] for r in rows))
    proxies = list(dict.fromkeys(r[1] for r in rows))
    width = 0.8 / max(1, len(datasets))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(proxies)), 3.8))
    for k, dataset in enumerate(datasets):
        taus = [next((r[2] for r in rows if r[0] == dataset and r[1] == p), np.nan) for p in proxies]
        split = next(r[3] for r in rows if r[0] == dataset)
        ax.bar(np.arange(len(proxies)) + k * width, taus, width, label=f"{dataset} ({split})")
    labels = [p.replace("(", "\n(").replace("+", "+\n") if len(p) > 14 and "\n" not in p else p for p in proxies]
    ax.set_xticks(np.arange(len(proxies)) + width * (len(datasets) - 1) / 2, labels)
    ax.set_ylabel("Kendall tau")
    ax.axhline(0, color="black", lw=0.6)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(3, len(datasets)), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def format_correlations(corr: pd.DataFrame) -> str:
    """The correlation table as fixed-width text; the proxy column is as wide as its longest name."""
    shown = corr[~(corr["kendall_tau"].isna() & (corr["cells"] == 0))]
    pw = max([len("proxy")] + [len(str(p)) for p in shown["proxy"]]) + 2
    aw = max([9] + [len(str(a)) + 1 for a in shown["accuracy"]])
    head = (
        f"{'dataset':<11}{'proxy':<{pw}}{'accuracy':<{aw}}{'tau':>8}{'rho':>8}{'cells':>7}{'-inf/nan':>9}{'failed':>7}"
    )
    lines = [head, "-" * len(head)]
    for _, r in shown.iterrows():
        lines.append(
            f"{r['dataset']:<11}{r['proxy']:<{pw}}{r['accuracy']:<{aw}}{r['kendall_tau']:>8.3f}"
            f"{r['spearman_rho']:>8.3f}{r['cells']:>7}{r['nonfinite']:>9}{r['failed']:>7}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m orchestrator.correlate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_space_options(p)
    add_image_options(p, several_datasets=True, init_seed=False)
    p.add_argument(
        "--n", type=int, default=1000, help="distinct random cells (a sample benchmark: at most all its cells)"
    )
    p.add_argument(
        "--proxies", default="naswot,grad_norm,synflow", help=f"comma list of: {', '.join(available_proxies())}"
    )
    p.add_argument("--ensemble", default="", help="comma list of proxies to combine into a rank ensemble")
    p.add_argument(
        "--fit-fusion",
        action="store_true",
        help="fit a weighted log-rank fusion of --proxies on half the cells; report all on the other half (@report)",
    )
    add_seed_option(p, "seed of the sampled cells")
    p.add_argument(
        "--naswot-runs",
        type=int,
        default=0,
        help="instead of random cells: the first --n distinct cells NASWOT runs 0..K-1 sample (shared with the runs' scores)",
    )
    p.add_argument("--naswot-n", type=int, default=100, help="N of those NASWOT runs")
    add_pool_options(p, default_executor="inline")
    p.add_argument("--inputs", choices=INPUT_KINDS, default="images", help="real images or Gaussian noise")
    p.add_argument("--inits", type=int, default=1, help="initialisations per cell; the score is their mean")
    add_store_options(p)
    p.add_argument("--out", default="runs/correlate", help="directory for scores.parquet, correlations and figures")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.inits < 1:
        print("error: --inits must be at least 1", file=sys.stderr)
        return 2
    try:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        scores, corr = study(args)
    except (NaswotError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scores.to_parquet(out / "scores.parquet", index=False)
    corr.to_csv(out / "correlations.csv", index=False)
    if not args.no_plots:
        plot_tau_bars(corr, out / "tau.png")
    print(
        f"{len(scores['arch_key'].unique())} cells of {args.space}, batch {args.batch_size} (seed {args.batch_seed}), inputs {args.inputs}, "
        f"{args.inits} init(s)"
    )
    print(format_correlations(corr))
    print(f"\nper-cell scores: {out / 'scores.parquet'}; figures: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
