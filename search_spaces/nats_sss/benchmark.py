"""NATS-Bench size-space lookups from a user's ``NATS-sss-v1_0-50262-simple`` directory.

Read with ``nats_bench.create(path, 'sss', fast_mode=True)``. The size space was trained for 90
epochs (``hp='90'``; the 12-epoch proxy ``hp='12'`` is REA's fitness, its training time the cost).
naswot ships no size-space table: without a directory the space can only be scored.
"""

from __future__ import annotations

from pathlib import Path

from search_spaces.core.benchmark import MetricSpec
from search_spaces.core.errors import ArchitectureNotInBenchmarkError
from search_spaces.nats_sss.space import NATSSizeCell, NATSSizeSpace, format_cell
from search_spaces.nb201.nats import nats_metrics, open_nats_api

NATS_SSS_METRICS: tuple[MetricSpec, ...] = nats_metrics(90)
# metric -> (NATS dataset, hp, key of get_more_info)
_QUERIES: dict[str, tuple[str, str, str]] = {
    "cifar10_valid": ("cifar10-valid", "90", "valid-accuracy"),
    "cifar10_test": ("cifar10", "90", "test-accuracy"),
    "cifar100_valid": ("cifar100", "90", "valid-accuracy"),
    "cifar100_test": ("cifar100", "90", "test-accuracy"),
    "imagenet16_valid": ("ImageNet16-120", "90", "valid-accuracy"),
    "imagenet16_test": ("ImageNet16-120", "90", "test-accuracy"),
    "cifar10_valid_12ep": ("cifar10-valid", "12", "valid-accuracy"),
    "train_time_12ep_s": ("cifar10-valid", "12", "train-all-time"),
}


class NATSSizeBenchmark:
    """A user's NATS-Bench size-space directory.

    Args:
        path: the ``NATS-sss-v1_0-50262-simple`` directory (``meta.pickle.pbz2`` and one
            ``NNNNNN.pickle.pbz2`` per architecture).

    Raises:
        BenchmarkDataError: the directory is missing or is not a NATS-Bench size directory.
    """

    name = "nats-sss"
    space_name = "nats_sss"
    metrics = NATS_SSS_METRICS
    fitness_names = ("cifar10_valid_12ep", "cifar10_valid", "cifar100_valid", "imagenet16_valid")
    default_fitness = "cifar10_valid_12ep"
    cost_name = "train_time_12ep_s"

    def __init__(self, path: str | Path, space: NATSSizeSpace | None = None) -> None:
        self.path = Path(path).expanduser()
        self.space = space or NATSSizeSpace()
        self._api = open_nats_api(self.path, "sss")
        self._cache: dict[int, dict[str, float]] = {}

    def lookup(self, arch: NATSSizeCell) -> dict[str, float]:
        """Every metric of :data:`NATS_SSS_METRICS` for ``arch`` (accuracies in %, mean over seeds).

        Raises:
            ArchitectureNotInBenchmarkError: the directory has no record of ``arch``.
        """
        if not isinstance(arch, NATSSizeCell):
            raise ArchitectureNotInBenchmarkError(f"{arch!r} is not a NATS-Bench size-space cell")
        index = arch.index
        if index not in self._cache:
            text = format_cell(arch)
            infos: dict[tuple[str, str], dict] = {}
            try:
                for dataset, hp, _field in _QUERIES.values():
                    if (dataset, hp) not in infos:
                        infos[(dataset, hp)] = self._api.get_more_info(index, dataset, hp=hp, is_random=False)
                params = float(self._api.get_cost_info(index, "cifar10-valid")["params"])
            except (AssertionError, FileNotFoundError, KeyError, ValueError) as exc:
                raise ArchitectureNotInBenchmarkError(
                    f"no record of index {index} ({text}) in {str(self.path)!r}: {exc}"
                ) from exc
            values = {name: float(infos[(d, hp)][field]) for name, (d, hp, field) in _QUERIES.items()}
            values["params_m"] = params
            self._cache[index] = {m.name: values[m.name] for m in self.metrics}
        return dict(self._cache[index])

    def cells(self) -> None:
        """None: a NATS-Bench size directory describes the whole space."""
        return None


def open_nats_sss_benchmark(space: NATSSizeSpace | None = None, path: str | Path | None = None):
    """The user's size-space directory, or None without one (naswot ships no size-space table)."""
    if path is None:
        return None
    return NATSSizeBenchmark(path, space)
