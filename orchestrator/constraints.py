"""Budgets a searched cell must meet: at most so many parameters, FLOPs or milliseconds.

:class:`Constraints` holds the limits (validated on construction). ``constraints.bind(space)`` gives
a :class:`ConstraintChecker` that answers ``costs(arch)`` and ``feasible(arch)`` for that space,
caching each cell's costs by its key; the checker is itself the ``feasible`` callable that the
searchers of :mod:`orchestrator.searchers` take. :func:`check_satisfiable` tells, before a search
starts, whether any cell meets the limits, and else names the smallest costs the space offers.

Where the costs come from:

* NAS-Bench-201's benchmark network (``nb201`` with C=16, N=5, 10 classes, 32x32 input): parameters
  from the embedded table's ``params_m``, FLOPs and the 27 devices' latencies from
  ``search_spaces/nb201/nb201_latency.parquet``: all O(1), and :func:`check_satisfiable` is exact
  over the 15,625 cells.
* any other space or network: parameters and FLOPs counted on the meta device
  (:func:`search_spaces.core.costs.network_costs`, about 0.1 s a cell); latency only as
  ``"measured"``. :func:`check_satisfiable` then looks at a seeded sample of cells.
* ``latency_device="measured"``: the forward pass of one image timed by the checker's *measurer*:
  a run's scoring pool (:meth:`ConstraintChecker.measure_with`; the Ray actors time it on their own
  CPU or GPU, :mod:`scoring.latency`), else this process's CPU
  (:func:`search_spaces.core.costs.measure_latency_ms`; median of ``measure_repeats``). Every
  measured cell's latency and hardware are kept in :attr:`ConstraintChecker.measured`.

FLOPs count each multiply-add once, as NAS-Bench-201 / NATS-Bench report them (see
:mod:`search_spaces.core.costs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from search_spaces.core.costs import MEASURED_DEVICE
from search_spaces.core.errors import NaswotError, UnknownNameError
from search_spaces.core.space import SearchSpace
from search_spaces.nb201.latency import LATENCY_DEVICES
from search_spaces.nb201.space import NB201Space

PARAMS, FLOPS, LATENCY = "params_m", "flops_m", "latency_ms"
Measurer = Callable[[Hashable], tuple[float, str]]
"""``measurer(arch) -> (milliseconds, hardware)``: where a ``"measured"`` latency is timed (NaN: it failed)."""
COST_NAMES: tuple[str, ...] = (PARAMS, FLOPS, LATENCY)
COST_UNITS: dict[str, str] = {PARAMS: "M params", FLOPS: "M FLOPs", LATENCY: "ms"}
KNOWN_DEVICES: tuple[str, ...] = (*LATENCY_DEVICES, MEASURED_DEVICE)
DEFAULT_SAMPLE = 64  # cells a non-exhaustive check_satisfiable looks at


class InfeasibleError(NaswotError, ValueError):
    """No cell meets the constraints (or a searcher found none within its bounded tries)."""


class ConstraintError(NaswotError, ValueError):
    """Constraints that are malformed, or that a space cannot evaluate."""


def _limit(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConstraintError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Constraints:
    """Limits on a cell's network; ``None`` leaves a cost free.

    Attributes:
        max_params_m: at most this many million parameters.
        max_flops_m: at most this many million multiply-adds for one image.
        max_latency_ms: at most this many milliseconds on ``latency_device``.
        latency_device: one of :data:`KNOWN_DEVICES` (the NB201 table's 27, or ``"measured"``);
            may be given without a limit, so that ``costs`` reports the latency.
        num_classes, input_shape: the network whose costs count (the benchmarks' CIFAR-10 network:
            10 classes, ``(3, 32, 32)``).
        measure_repeats: timed forward passes per cell for ``"measured"``.

    Raises:
        ConstraintError: a limit that is not a positive finite number, ``max_latency_ms`` without a
            device, a bad ``num_classes``, ``input_shape`` or ``measure_repeats``.
        UnknownNameError: ``latency_device`` is not a known device (the message lists them).
    """

    max_params_m: float | None = None
    max_flops_m: float | None = None
    max_latency_ms: float | None = None
    latency_device: str | None = None
    num_classes: int = 10
    input_shape: tuple[int, ...] = (3, 32, 32)
    measure_repeats: int = 10

    def __post_init__(self) -> None:
        for name in ("max_params_m", "max_flops_m", "max_latency_ms"):
            object.__setattr__(self, name, _limit(name, getattr(self, name)))
        if self.max_latency_ms is not None and self.latency_device is None:
            raise ConstraintError(f"max_latency_ms needs a latency_device (one of {', '.join(KNOWN_DEVICES)})")
        if self.latency_device is not None and self.latency_device not in KNOWN_DEVICES:
            raise UnknownNameError("latency device", self.latency_device, KNOWN_DEVICES)
        shape = tuple(self.input_shape)
        if len(shape) != 3 or not all(isinstance(s, int | np.integer) and s > 0 for s in shape):
            raise ConstraintError(
                f"input_shape is (channels, height, width) of positive ints, got {self.input_shape!r}"
            )
        object.__setattr__(self, "input_shape", tuple(int(s) for s in shape))
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ConstraintError(f"num_classes must be a positive int, got {self.num_classes!r}")
        if self.measure_repeats < 1:
            raise ConstraintError(f"measure_repeats must be at least 1, got {self.measure_repeats}")

    @property
    def limits(self) -> dict[str, float]:
        """The limits that are set, by cost name (``params_m``, ``flops_m``, ``latency_ms``)."""
        values = {PARAMS: self.max_params_m, FLOPS: self.max_flops_m, LATENCY: self.max_latency_ms}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def active(self) -> bool:
        """Whether any limit is set (no limit: every cell is feasible)."""
        return bool(self.limits)

    def describe(self) -> str:
        """One line, e.g. ``params_m <= 0.5, latency_ms <= 3 (hwnb_pixel3)``; ``no limits`` when none."""
        parts = [f"{name} <= {value:g}" for name, value in self.limits.items()]
        if self.max_latency_ms is not None:
            parts[-1] += f" ({self.latency_device})"
        return ", ".join(parts) or "no limits"

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (``input_shape`` as a list)."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Constraints:
        """The inverse of :meth:`to_json`; validates like the constructor."""
        values = dict(data)
        if "input_shape" in values:
            values["input_shape"] = tuple(values["input_shape"])
        return cls(**values)

    def bind(self, space: SearchSpace) -> ConstraintChecker:
        """A checker of these constraints for ``space`` (see :class:`ConstraintChecker`)."""
        return ConstraintChecker(space, self)


@dataclass(frozen=True)
class Satisfiability:
    """What :func:`check_satisfiable` found.

    Attributes:
        feasible: cells that meet every limit, among the ``checked``.
        checked: cells looked at (the whole space when ``exact``).
        exact: True when every cell of the space was checked.
        smallest: the smallest value of each limited cost among the checked cells.
    """

    feasible: int
    checked: int
    exact: bool
    smallest: dict[str, float] = field(default_factory=dict)


class ConstraintChecker:
    """``costs`` and ``feasible`` of one space's cells under :class:`Constraints` (cached per cell key).

    Calling the checker is ``feasible``, so it can be given to a searcher as its ``feasible`` filter.
    Mutates only its own cache.

    Raises (on construction):
        ConstraintError: a table latency device for a network the NB201 table does not describe.
    """

    def __init__(self, space: SearchSpace, constraints: Constraints) -> None:
        from search_spaces.nb201.latency import is_table_network

        self.space = space
        self.constraints = constraints
        self.table = isinstance(space, NB201Space) and is_table_network(
            space, constraints.num_classes, constraints.input_shape
        )
        device = constraints.latency_device
        if device in LATENCY_DEVICES and not self.table:
            raise ConstraintError(
                f"latency device {device!r} is from the NAS-Bench-201 table, which describes only the nb201 "
                f"benchmark network (C=16, N=5, 10 classes, 3x32x32); for {space.name} with these options "
                f"use {MEASURED_DEVICE!r}"
            )
        self._cache: dict[str, dict[str, float]] = {}
        self.measured_on: str | None = None  # the hardware of the last measured latency
        self.measured: dict[str, tuple[float, str]] = {}  # cell key -> (ms, hardware) of each measured latency
        self._measurer: Measurer | None = None
        self._params_m: np.ndarray | None = None

    # -- one cell ----------------------------------------------------------------------------
    def costs(self, arch: Hashable) -> dict[str, float]:
        """``params_m`` and ``flops_m`` of ``arch``'s network, and ``latency_ms`` when a device is set.

        The result is cached by ``space.key(arch)``; a copy is returned. Raises what ``space.build``
        raises for a cell it cannot build.
        """
        key = self.space.key(arch)
        if key not in self._cache:
            self._cache[key] = self._compute(arch)
        return dict(self._cache[key])

    def feasible(self, arch: Hashable) -> bool:
        """Whether ``arch`` meets every limit (True for every cell when no limit is set)."""
        if not self.constraints.active:
            return True
        costs = self.costs(arch)
        return all(costs[name] <= limit for name, limit in self.constraints.limits.items())

    __call__ = feasible

    def _index(self, arch: Hashable) -> int:
        """The benchmark index of ``arch`` (only for the NB201 table network, :attr:`table`)."""
        assert isinstance(self.space, NB201Space)
        return self.space.index(arch)  # type: ignore[arg-type]

    def _compute(self, arch: Hashable) -> dict[str, float]:
        c = self.constraints
        if self.table:
            from search_spaces.nb201 import latency

            index = self._index(arch)
            out = {PARAMS: float(self._params()[index]), FLOPS: latency.flops_m(index)}
        else:
            from search_spaces.core.costs import network_costs

            counted = network_costs(self.space, arch, c.num_classes, c.input_shape)
            out = {PARAMS: counted.params_m, FLOPS: counted.flops_m}
        if c.latency_device == MEASURED_DEVICE:
            out[LATENCY] = self._measure(arch)
        elif c.latency_device is not None:
            from search_spaces.nb201 import latency

            out[LATENCY] = latency.latency_ms(self._index(arch), c.latency_device)
        return out

    def measure_with(self, measurer: Measurer | None) -> None:
        """Time ``"measured"`` latencies with ``measurer`` (e.g. on a run's scoring actors) instead
        of in this process (None: in this process again). Forgets the costs cached so far, so every
        latency a search sees comes from one place. Mutates the checker."""
        self._measurer = measurer
        self._cache.clear()
        self.measured.clear()

    def _measure(self, arch: Hashable) -> float:
        """The latency of ``arch`` (NaN when its measurement failed: the cell is then infeasible)."""
        if self._measurer is not None:
            ms, hardware = self._measurer(arch)
        else:
            import torch

            from search_spaces.core.costs import measure_latency_ms

            with torch.random.fork_rng(devices=[]):  # the build draws weights: keep the caller's RNG state
                model = self.space.build(arch, self.constraints.num_classes)
            shape = (1, *self.constraints.input_shape)
            local = measure_latency_ms(model, shape, self.constraints.measure_repeats)
            ms, hardware = local.ms, local.hardware
        self.measured_on = hardware
        self.measured[str(self.space.key(arch))] = (float(ms), hardware)
        return float(ms)

    # -- the whole space -----------------------------------------------------------------------
    def check_satisfiable(self, sample: int = DEFAULT_SAMPLE, seed: int = 0) -> Satisfiability:
        """Whether any cell meets the limits: exactly over all 15,625 cells for NB201's table
        network (unless the latency is ``"measured"``), else over ``sample`` cells drawn from ``seed``
        (their costs are computed, and cached). With no limit set nothing is computed: every cell of
        the space counts as feasible.

        Raises:
            InfeasibleError: no checked cell meets every limit; the message names, for each limit,
                the smallest value the space offers (or the sample held) and how many cells meet it alone.
        """
        limits = self.constraints.limits
        if not limits:  # every cell is feasible; nothing to compute
            size = self.space.size or 0
            return Satisfiability(feasible=size, checked=size, exact=self.space.size is not None)
        if self.table and self.constraints.latency_device != MEASURED_DEVICE:
            columns = self._table_columns()
            exact = True
        else:
            from search_spaces.core.cells import random_cells

            space_size = self.space.size
            count = sample if space_size is None else min(sample, space_size)
            cells = random_cells(self.space, count, seed)
            rows = [self.costs(cell) for cell in cells]
            columns = {name: np.array([row[name] for row in rows]) for name in limits}
            exact = space_size is not None and count == space_size
        meets = {name: columns[name] <= limit for name, limit in limits.items()}
        together = np.logical_and.reduce(list(meets.values()))
        checked = len(together)
        smallest = {name: float(columns[name].min()) for name in limits}
        result = Satisfiability(int(together.sum()), checked, exact, smallest)
        if result.feasible == 0:
            raise InfeasibleError(self._explain(meets, smallest, checked, exact, seed))
        return result

    def _params(self) -> np.ndarray:
        """The embedded NB201 table's ``params_m`` in index order (read once per checker)."""
        if self._params_m is None:
            from search_spaces.nb201.table import embedded_table

            self._params_m = embedded_table().column(PARAMS).to_numpy()
        return self._params_m

    def _table_columns(self) -> dict[str, np.ndarray]:
        from search_spaces.nb201 import latency

        columns = {PARAMS: self._params(), FLOPS: latency.flops_column()}
        if self.constraints.latency_device is not None:
            columns[LATENCY] = latency.latency_column(self.constraints.latency_device)
        return columns

    def _explain(self, meets: dict, smallest: dict, checked: int, exact: bool, seed: int) -> str:
        scope = self.space.name if exact else "the sample"
        head = (
            f"no cell of {self.space.name}"
            if exact
            else f"none of {checked} {self.space.name} cells drawn from seed {seed}"
        )
        parts = [
            f"the smallest {name} in {scope} is {smallest[name]:g} {COST_UNITS[name]} "
            f"({int(ok.sum())} of {checked} cells meet {name} <= {self.constraints.limits[name]:g} alone)"
            for name, ok in meets.items()
        ]
        return f"{head} meets {self.constraints.describe()}: " + "; ".join(parts)


def check_satisfiable(
    space: SearchSpace, constraints: Constraints, sample: int = DEFAULT_SAMPLE, seed: int = 0
) -> Satisfiability:
    """``constraints.bind(space).check_satisfiable(sample, seed)``; raises ``InfeasibleError`` when
    no cell is feasible (see :meth:`ConstraintChecker.check_satisfiable`)."""
    return constraints.bind(space).check_satisfiable(sample, seed)
