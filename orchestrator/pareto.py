"""Pareto fronts and hypervolume: how well a search traded accuracy against a cost.

Non-dominated sorting and the hypervolume come from ``moocore`` (the C library of
multi-objective indicators that pymoo's ``HV`` also calls). Every function takes ``senses``, one
``"max"`` or ``"min"`` per objective (column), so accuracies and costs are used in their own units;
a reference point is in those units too (for a maximised objective it is a lower bound).

For NAS-Bench-201 every cell is known, so :func:`true_front` gives the exact front of the space
(e.g. test accuracy against parameters), and :func:`hypervolume_ratio` tells what fraction of its
hypervolume a search's found cells reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from search_spaces.core.errors import NaswotError

MAX, MIN = "max", "min"
SENSES: tuple[str, ...] = (MAX, MIN)
ACCURACY_VS_COST: tuple[str, str] = (MAX, MIN)


class ParetoInputError(NaswotError, ValueError):
    """Points, senses or a reference point that do not fit together (shape, sense name, non-finite value)."""


def _objectives(points: Any, senses: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
    """``points`` as a float (n, k) array and ``senses`` as moocore's per-column ``maximise`` flags."""
    array = np.asarray(points, dtype=float)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, len(senses))
    if array.ndim != 2:
        raise ParetoInputError(f"points must be an (n, objectives) array, got shape {array.shape}")
    if len(senses) != array.shape[1]:
        raise ParetoInputError(f"{array.shape[1]} objectives but {len(senses)} senses: {list(senses)}")
    unknown = [s for s in senses if s not in SENSES]
    if unknown:
        raise ParetoInputError(f"unknown sense(s) {unknown}; each is one of {', '.join(SENSES)}")
    if not np.isfinite(array).all():
        raise ParetoInputError("points must be finite (drop failed or unmeasured cells first)")
    return array, [s == MAX for s in senses]


def pareto_front(points: Any, senses: Sequence[str]) -> np.ndarray:
    """Indices (ascending) of the points no other point dominates.

    A point dominates another when it is at least as good in every objective and better in one.
    Equal points are all kept (each is optimal). Raises ``ParetoInputError`` for bad inputs.
    """
    import moocore

    array, maximise = _objectives(points, senses)
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(moocore.is_nondominated(array, maximise=maximise, keep_weakly=True))


def pareto_ranks(points: Any, senses: Sequence[str]) -> np.ndarray:
    """Non-dominated sorting: each point's front, 0 for the Pareto front, 1 for the front once it
    is removed, and so on. Raises ``ParetoInputError`` for bad inputs."""
    import moocore

    array, maximise = _objectives(points, senses)
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(moocore.pareto_rank(array, maximise=maximise), dtype=np.int64)


def hypervolume(points: Any, reference: Sequence[float], senses: Sequence[str] | None = None) -> float:
    """The volume that ``points`` dominate and that dominates ``reference``.

    ``senses`` default: every objective minimised. Points that do not strictly improve on
    ``reference`` in every objective add nothing; no points give 0.

    Raises:
        ParetoInputError: shapes, senses or a non-finite value do not fit.
    """
    import moocore

    ref = np.asarray(reference, dtype=float)
    if senses is None:
        shape = np.shape(points)
        senses = (MIN,) * (shape[1] if len(shape) == 2 else len(ref))
    array, maximise = _objectives(points, tuple(senses))
    if ref.shape != (len(senses),) or not np.isfinite(ref).all():
        raise ParetoInputError(f"reference must be {len(senses)} finite numbers, got {list(reference)}")
    if len(array) == 0:
        return 0.0
    return float(moocore.hypervolume(array, ref=ref, maximise=maximise))


def _column(table: Any, name: str) -> np.ndarray:
    if isinstance(table, pd.DataFrame):
        if name not in table.columns:
            raise ParetoInputError(f"no column {name!r}; columns: {', '.join(map(str, table.columns))}")
        return table[name].to_numpy(dtype=float)
    return np.asarray(table.column(name), dtype=float)  # a benchmark table (e.g. EmbeddedNB201Table)


def true_front(table: Any, accuracy_column: str, cost_column: str) -> pd.DataFrame:
    """The cells of ``table`` that no other cell beats in both higher accuracy and lower cost.

    ``table``: a DataFrame (one row per cell, its index the cells' ids) or a benchmark table with
    ``column(name)`` in benchmark index order (:class:`~search_spaces.nb201.benchmark.EmbeddedNB201Table`,
    whose every cell is known, so the front is the space's true front). Rows with a NaN in either
    column are left out. Returns a DataFrame of the two columns, indexed by cell id, by rising cost.

    Raises:
        ParetoInputError: a column is missing.
        UnknownNameError: a benchmark table has no such column.
    """
    accuracy, cost = _column(table, accuracy_column), _column(table, cost_column)
    ids = table.index.to_numpy() if isinstance(table, pd.DataFrame) else np.arange(len(accuracy))
    known = np.isfinite(accuracy) & np.isfinite(cost)
    points = np.column_stack([accuracy[known], cost[known]])
    front = pareto_front(points, ACCURACY_VS_COST)
    out = pd.DataFrame({accuracy_column: points[front, 0], cost_column: points[front, 1]}, index=ids[known][front])
    return out.sort_values([cost_column, accuracy_column], ascending=[True, False], kind="stable")


def hypervolume_ratio(
    found: Any, front: Any, reference: Sequence[float], senses: Sequence[str] = ACCURACY_VS_COST
) -> float:
    """``hypervolume(found) / hypervolume(front)`` for the same ``reference`` and ``senses``
    (default: accuracy maximised, cost minimised): 1 when the found cells reach the true front.

    Raises:
        ParetoInputError: bad inputs, or a front whose hypervolume is 0 for this reference.
    """
    whole = hypervolume(front, reference, senses)
    if whole <= 0:
        raise ParetoInputError(f"the front dominates nothing of reference {list(reference)}: no ratio")
    return hypervolume(found, reference, senses) / whole
