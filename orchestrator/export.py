"""Export the network a search chose, so it can be trained or deployed outside naswot.

    python -m orchestrator.export RUN_DIR --out model.pt [--seed S] [--no-pt2] [--onnx] [--measure-latency]

The chosen cell is the searcher's own answer, the ``incumbent`` of the run's last told row
(:func:`orchestrator.report.final_choices`); a directory with several runs (seeds) needs ``--seed``.
The network is built as the run scored it (``config.space``, ``config.space_options``, the
dataset's classes, weights drawn from ``config.init_seed``: untrained). Written, each atomically:

* ``model.pt``: ``{"record": ..., "state_dict": ...}``; the record (space, options, arch string,
  num_classes, input shape) is all :func:`load_exported` needs to rebuild the network. It loads
  with ``torch.load(..., weights_only=True)``.
* ``model.pt2``: the network as a ``torch.export`` program (``torch.export.load(path).module()``),
  for one image of the dataset's shape; skipped, with the reason in ``model.json``, when the
  network cannot be exported (``--no-pt2``: not tried).
* ``model.onnx`` with ``--onnx``: through ``torch.onnx.export`` (needs the ``onnx`` and
  ``onnxscript`` packages; about 15 s for an NB201 network on two CPU cores).
* ``model.json``: the record plus parameters, FLOPs (multiply-adds, see
  :mod:`search_spaces.core.costs`), latency where known (NB201's benchmark network: the 27 devices
  of :mod:`search_spaces.nb201.latency`; ``--measure-latency``: this machine), the benchmark
  metrics the history holds for the cell, and which files were written.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.history import load_history, read_config
from orchestrator.report import final_choices
from scoring.data import DATASETS, INPUT_SHAPES, NUM_CLASSES
from search_spaces.core.atomic import write_bytes_atomic, write_json_atomic
from search_spaces.core.errors import NaswotError, UnknownNameError
from search_spaces.nb201.space import NB201Space

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

FORMAT = "naswot-export/1"
MODEL_SUFFIX, JSON_SUFFIX, PT2_SUFFIX, ONNX_SUFFIX = ".pt", ".json", ".pt2", ".onnx"
# What can go wrong while tracing a network for torch.export or ONNX (dynamo's errors are RuntimeErrors).
_EXPORT_FAILURES = (RuntimeError, TypeError, ValueError, NotImplementedError, AssertionError, ImportError)


class ExportError(NaswotError, ValueError):
    """A run directory (or an exported file) that cannot be exported (or loaded): the message says why."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_run` wrote.

    Attributes:
        model: the ``model.pt`` path; ``info``: the ``model.json`` path.
        files: every written file by kind (``pt``, ``json``, ``pt2``, ``onnx``).
        skipped: the formats not written, with the reason.
        record: the content of ``model.json``.
    """

    model: Path
    info: Path
    files: dict[str, Path]
    skipped: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def chosen_cell(run_dir: str | Path, seed: int | None = None) -> dict[str, Any]:
    """The final choice of one run of ``run_dir`` (a row of :func:`final_choices`, as a dict).

    Raises:
        ExportError: the directory has no history rows, ``seed`` is not one of its runs, it holds
            several runs and ``seed`` is None, or the run chose nothing (every candidate failed).
        FileNotFoundError: ``run_dir`` has no history.
    """
    choices = final_choices(load_history(run_dir))
    if choices.empty:
        raise ExportError(f"{str(run_dir)!r} has no told candidates to export")
    seeds = sorted(int(s) for s in choices["seed"].unique())
    if seed is None:
        if len(seeds) > 1:
            raise ExportError(
                f"{str(run_dir)!r} holds {len(seeds)} runs (seeds {seeds[0]}..{seeds[-1]}): choose one with --seed"
            )
        seed = seeds[0]
    if seed not in seeds:
        raise ExportError(f"seed {seed} is not a run of {str(run_dir)!r}; its seeds: {seeds[0]}..{seeds[-1]}")
    row = choices[choices["seed"] == seed].iloc[0].to_dict()
    if row.get("arch") is None or (isinstance(row["arch"], float) and math.isnan(row["arch"])):
        raise ExportError(f"run seed {seed} of {str(run_dir)!r} chose no cell (no candidate succeeded)")
    return row


def _record_from_config(run_dir: Path, choice: dict[str, Any]) -> dict[str, Any]:
    data = read_config(run_dir)
    try:
        config = data["config"]
        space_name, dataset = config["space"], config["dataset"]
        options = {str(k): v for k, v in config.get("space_options", [])}
        init_seed = int(config.get("init_seed", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{str(run_dir)!r}/config.json lacks the run's space or dataset: {exc}") from exc
    if dataset not in NUM_CLASSES:
        raise UnknownNameError("dataset", dataset, DATASETS)
    return {
        "format": FORMAT,
        "space": space_name,
        "space_options": options,
        "arch": str(choice["arch"]),
        "arch_key": str(choice.get("arch_key", "")),
        "num_classes": NUM_CLASSES[dataset],
        "input_shape": list(INPUT_SHAPES[dataset]),
        "dataset": dataset,
        "init_seed": init_seed,
        "run_id": str(data.get("run_id", run_dir.name)),
        "seed": int(choice["seed"]),
        "algorithm": str(choice["algorithm"]),
    }


def _build(record: dict[str, Any]) -> nn.Module:
    from scoring.cells import build_seeded
    from search_spaces import get_space

    space = get_space(record["space"], **record["space_options"])
    return build_seeded(space, space.parse(record["arch"]), record["num_classes"], record["init_seed"]).eval()


def _costs(record: dict[str, Any], model: nn.Module, measure: bool) -> dict[str, Any]:
    from search_spaces import get_space
    from search_spaces.core.costs import measure_latency_ms, network_costs
    from search_spaces.nb201 import latency

    space = get_space(record["space"], **record["space_options"])
    arch = space.parse(record["arch"])
    counted = network_costs(space, arch, record["num_classes"], record["input_shape"])
    out: dict[str, Any] = {
        "params_m": counted.params_m,
        "flops_m": counted.flops_m,
        "flops_convention": "multiply-adds of one image, each counted once (NATS-Bench adds num_classes/1e6)",
        "latency_ms": {},
    }
    if isinstance(space, NB201Space) and latency.is_table_network(space, record["num_classes"], record["input_shape"]):
        index = space.index(arch)
        out["latency_ms"] = {device: latency.latency_ms(index, device) for device in latency.LATENCY_DEVICES}
    if measure:
        measured = measure_latency_ms(model, (1, *record["input_shape"]))
        out["latency_ms"]["measured"] = measured.ms
        out["measured_on"] = measured.hardware
    return out


def _torch_bytes(save, obj) -> bytes:
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def _write_pt2(model: nn.Module, example, path: Path) -> None:
    import torch

    program = torch.export.export(model, (example,))
    write_bytes_atomic(_torch_bytes(torch.export.save, program), path)


def _write_onnx(model: nn.Module, example, path: Path) -> None:
    import torch

    buffer = io.BytesIO()
    torch.onnx.export(model, (example,), buffer, input_names=["images"], output_names=["logits"], verbose=False)  # type: ignore[arg-type]  # torch accepts a file object
    write_bytes_atomic(buffer.getvalue(), path)


def export_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    seed: int | None = None,
    onnx: bool = False,
    measure_latency: bool = False,
    program: bool = True,
) -> ExportResult:
    """Write the chosen network of ``run_dir`` to ``out`` (default ``RUN_DIR/model.pt``) and its
    companions beside it (``.json``, ``.pt2`` unless ``program`` is False, ``.onnx`` with ``onnx``;
    see the module docstring). ``measure_latency``: time one image's forward pass here.

    A format the network cannot take is skipped (``ExportResult.skipped`` and ``model.json`` say why)
    and an earlier file of that format at the same place is removed; ``model.pt`` and ``model.json``
    are always written. Only these output files are created, replaced or removed.

    Raises:
        ExportError: see :func:`chosen_cell`; ``out`` does not end in ``.pt``; a broken config.
        FileNotFoundError: ``run_dir`` is not a run directory.
    """
    import torch

    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / f"model{MODEL_SUFFIX}"
    if out.suffix != MODEL_SUFFIX:
        raise ExportError(
            f"--out must end in {MODEL_SUFFIX} (its companions take .json, .pt2, .onnx), got {str(out)!r}"
        )
    choice = chosen_cell(run_dir, seed)
    record = _record_from_config(run_dir, choice)
    model = _build(record)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(_torch_bytes(torch.save, {"record": record, "state_dict": model.state_dict()}), out)
    files = {"pt": out}
    skipped: dict[str, str] = {}
    example = torch.zeros((1, *record["input_shape"]))
    writers = ([("pt2", PT2_SUFFIX, _write_pt2)] if program else []) + (
        [("onnx", ONNX_SUFFIX, _write_onnx)] if onnx else []
    )
    for kind, suffix, write in writers:
        try:
            write(model, example, out.with_suffix(suffix))
            files[kind] = out.with_suffix(suffix)
        except _EXPORT_FAILURES as exc:
            skipped[kind] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            out.with_suffix(suffix).unlink(missing_ok=True)  # never leave an earlier export's file beside this one
    metrics = {k: float(v) for k, v in choice.items() if k not in _CHOICE_FIELDS and _finite(v)}
    info = {
        **record,
        **_costs(record, model, measure_latency),
        "benchmark_metrics": metrics,
        "files": {kind: path.name for kind, path in files.items()} | {"json": out.with_suffix(JSON_SUFFIX).name},
        "skipped": skipped,
    }
    write_json_atomic(info, out.with_suffix(JSON_SUFFIX))
    files["json"] = out.with_suffix(JSON_SUFFIX)
    return ExportResult(out, files["json"], files, skipped, info)


_CHOICE_FIELDS = frozenset({"run_id", "algorithm", "seed", "arch", "arch_key", "search_time_s", "trials", "failed"})


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def export_record(path: str | Path) -> dict[str, Any]:
    """The record stored in an exported ``model.pt`` (space, options, arch, num_classes, input shape).

    Raises:
        ExportError: the file is not a naswot export.
        FileNotFoundError: no such file.
    """
    return _load(path)[0]


def _load(path: str | Path) -> tuple[dict[str, Any], dict]:
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model at {str(path)!r}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError) as exc:
        raise ExportError(f"{str(path)!r} is not a naswot export: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("record"), dict) or data["record"].get("format") != FORMAT:
        raise ExportError(f"{str(path)!r} is not a naswot export (format {FORMAT})")
    return data["record"], data["state_dict"]


def load_exported(path: str | Path) -> nn.Module:
    """Rebuild the network exported to ``path`` (a ``model.pt``) with its weights, in eval mode, on the CPU.

    Touches no global random state. Raises:
        ExportError: the file is not a naswot export, or its weights do not fit the rebuilt network.
        FileNotFoundError: no such file.
        UnknownNameError: the record's space is not registered here.
    """
    record, state = _load(path)
    model = _build(record)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ExportError(f"the weights in {str(path)!r} do not fit {record['space']} {record['arch']}: {exc}") from exc
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run directory (config.json, history.parquet)")
    parser.add_argument("--out", type=Path, default=None, help="the .pt file to write (default RUN_DIR/model.pt)")
    parser.add_argument("--seed", type=int, default=None, help="which run (seed) of the directory to export")
    parser.add_argument("--onnx", action="store_true", help="also write an ONNX file (needs onnx and onnxscript)")
    parser.add_argument("--no-pt2", action="store_true", help="skip the torch.export program (it takes seconds)")
    parser.add_argument(
        "--measure-latency", action="store_true", help="time the forward pass of one image on this machine"
    )
    args = parser.parse_args(argv)
    try:
        result = export_run(args.run_dir, args.out, args.seed, args.onnx, args.measure_latency, not args.no_pt2)
    except (NaswotError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    record = result.record
    print(f"{record['space']} {record['arch']} (run {record['run_id']}, seed {record['seed']}):")
    print(f"  {record['params_m']:.6f} M params, {record['flops_m']:.3f} M multiply-adds")
    for kind, path in result.files.items():
        print(f"  wrote {path} ({kind})")
    for kind, reason in result.skipped.items():
        print(f"  skipped {kind}: {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
