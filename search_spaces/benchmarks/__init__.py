"""Tabular benchmarks behind one seam (:class:`Benchmark`): the embedded tables and readers for
users' real benchmark files (NB201 / NATS tss, NB101 TFRecord, NATS sss)."""

from .base import Benchmark, MetricSpec, metric_names, nan_metrics
from .nats_sss import NATSSizeBenchmark, open_nats_sss_benchmark
from .nb101 import NB101SampleTable, NB101TFRecordBenchmark, open_nb101_benchmark
from .nb201_table import (
    DATASETS,
    METRIC_COLUMNS,
    NB201_METRICS,
    SPLITS,
    EmbeddedNB201Table,
    NATSTopologyBenchmark,
    NB201Benchmark,
    open_nb201_benchmark,
)

__all__ = [
    "DATASETS",
    "METRIC_COLUMNS",
    "NB201_METRICS",
    "SPLITS",
    "Benchmark",
    "EmbeddedNB201Table",
    "MetricSpec",
    "NATSSizeBenchmark",
    "NATSTopologyBenchmark",
    "NB101SampleTable",
    "NB101TFRecordBenchmark",
    "NB201Benchmark",
    "metric_names",
    "nan_metrics",
    "open_nats_sss_benchmark",
    "open_nb101_benchmark",
    "open_nb201_benchmark",
]
