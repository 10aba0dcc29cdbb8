"""Rank correlations and the rank ensemble of proxies (pure numpy/scipy; no torch, no Ray)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, rankdata, spearmanr


@dataclass(frozen=True)
class Correlation:
    """Kendall tau-b and Spearman rho over the cells that have a proxy value.

    A failed cell (NaN) is left out; an infinite value (e.g. NASWOT's -inf for a singular kernel)
    is a value like any other and ranks last (or first), as it would in a search.
    """

    kendall_tau: float
    spearman_rho: float
    cells: int
    excluded: int  # cells left out: no proxy value (NaN, failed) or no accuracy


def correlate(values, accuracies) -> Correlation:
    """Correlation of ``values`` with ``accuracies`` (same length); NaNs are left out, infinities kept."""
    v = np.asarray(values, dtype=np.float64)
    a = np.asarray(accuracies, dtype=np.float64)
    if v.shape != a.shape:
        raise ValueError(f"values and accuracies differ in shape: {v.shape} vs {a.shape}")
    keep = ~np.isnan(v) & np.isfinite(a)
    if keep.sum() < 3:
        return Correlation(float("nan"), float("nan"), int(keep.sum()), int((~keep).sum()))
    ranks = rankdata(v[keep], method="average")  # ordinal: infinities are extreme ranks
    tau = kendalltau(ranks, a[keep]).statistic
    rho = spearmanr(ranks, a[keep]).statistic
    return Correlation(float(tau), float(rho), int(keep.sum()), int((~keep).sum()))


def rank_ensemble(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Sum over proxies of each cell's rank (average ranks for ties; NaN and -inf rank lowest).

    All arrays must describe the same cells in the same order. Higher is better.
    """
    if not columns:
        raise ValueError("an ensemble needs at least one proxy")
    total: np.ndarray | None = None
    for values in columns.values():
        v = np.asarray(values, dtype=np.float64)
        v = np.where(np.isnan(v), -np.inf, v)
        ranks = rankdata(v, method="average")
        total = ranks if total is None else total + ranks
    assert total is not None  # columns is not empty
    return total
