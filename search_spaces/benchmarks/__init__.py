"""Tabular benchmarks: the embedded NAS-Bench-201 table and readers for users' real benchmark files."""

from .nb201_table import (
    DATASETS,
    METRIC_COLUMNS,
    SPLITS,
    EmbeddedNB201Table,
    NATSTopologyBenchmark,
    NB201Benchmark,
    open_nb201_benchmark,
)

__all__ = [
    "DATASETS",
    "METRIC_COLUMNS",
    "SPLITS",
    "EmbeddedNB201Table",
    "NATSTopologyBenchmark",
    "NB201Benchmark",
    "open_nb201_benchmark",
]
