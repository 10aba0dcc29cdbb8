"""NATS-Bench helpers shared by the topology space (``nb201``) and the size space (``nats_sss``):
their common metric list and the opener of a user's NATS-Bench directory."""

from __future__ import annotations

from search_spaces.core.benchmark import MetricSpec


def nats_metrics(epochs: int) -> tuple[MetricSpec, ...]:
    """The metrics of a NATS-Bench-style table whose full training is ``epochs`` long (NB201 / tss:
    200, sss: 90): accuracies of the three datasets, the 12-epoch proxy, its training time, params."""
    return (
        MetricSpec(
            "cifar10_valid", "%", f"CIFAR-10 validation accuracy after {epochs} epochs", "C10 valid", reported=True
        ),
        MetricSpec(
            "cifar10_test",
            "%",
            f"CIFAR-10 test accuracy after {epochs} epochs (trained on train+valid)",
            "C10 test",
            reported=True,
        ),
        MetricSpec(
            "cifar100_valid", "%", f"CIFAR-100 validation accuracy after {epochs} epochs", "C100 valid", reported=True
        ),
        MetricSpec("cifar100_test", "%", f"CIFAR-100 test accuracy after {epochs} epochs", "C100 test", reported=True),
        MetricSpec(
            "imagenet16_valid",
            "%",
            f"ImageNet16-120 validation accuracy after {epochs} epochs",
            "IN16 valid",
            reported=True,
        ),
        MetricSpec(
            "imagenet16_test", "%", f"ImageNet16-120 test accuracy after {epochs} epochs", "IN16 test", reported=True
        ),
        MetricSpec("cifar10_valid_12ep", "%", "CIFAR-10 validation accuracy after 12 epochs (REA's fitness)"),
        MetricSpec("train_time_12ep_s", "s", "seconds to train the 12-epoch proxy on CIFAR-10 (the search's cost)"),
        MetricSpec("params_m", "M", "parameters (millions) of the benchmark's 10-class network"),
    )


NATS_KINDS = {"tss": ("topology", "NATS-tss-v1_0-3ffb9-simple"), "sss": ("size", "NATS-sss-v1_0-50262-simple")}


def open_nats_api(path, kind: str):
    """``nats_bench.create(path, kind, fast_mode=True)`` for a user's NATS-Bench directory.

    Args:
        path: the unpacked ``NATS-tss-v1_0-3ffb9-simple`` or ``NATS-sss-v1_0-50262-simple`` folder.
        kind: ``"tss"`` (topology) or ``"sss"`` (size).

    Raises:
        BenchmarkDataError: the directory is missing, has no ``meta.pickle.pbz2``, or cannot be read
            (the message names the directory and the folder expected).
    """
    from pathlib import Path

    from search_spaces.core.errors import BenchmarkDataError

    words, folder = NATS_KINDS[kind]
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BenchmarkDataError(f"NATS-Bench {words} directory {str(path)!r} does not exist")
    if not (path / "meta.pickle.pbz2").is_file():
        raise BenchmarkDataError(
            f"{str(path)!r} is not a NATS-Bench directory: it has no meta.pickle.pbz2 "
            f"(expected the unpacked {folder} folder)"
        )
    import nats_bench

    try:
        return nats_bench.create(str(path), kind, fast_mode=True, verbose=False)
    except (OSError, ValueError, AssertionError, EOFError) as exc:
        raise BenchmarkDataError(f"cannot read NATS-Bench {words} directory {str(path)!r}: {exc}") from exc
