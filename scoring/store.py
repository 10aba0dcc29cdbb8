"""A shared, append-only Parquet store of per-cell scores.

A score is keyed by everything it depends on (:class:`ScoreKey`): the space and the cell's key,
how the network was built (number of classes, the space's build options such as a stem width),
the images (dataset, a content hash of the minibatch, batch size and seed), the init seed and
the proxy. So every command that scores cells (searches, the correlation study, sweeps) re-uses
what was scored once, and a user's own images never get the embedded images' scores.
Each record keeps the measured build and scoring time and the device and hardware it was measured
on, so a search that takes a score from the store can still charge what that cell really cost, on
the same kind of device (see ``scoring.service.ScoringService``).

Layout: a directory of ``part-*.parquet`` files with an explicit schema. Each flush writes a new part
to a temporary file and renames it into place, so a killed process never leaves a broken file and
several processes can add to one store at once. Later parts win when a key appears twice. Each part
carries the store format version in its Parquet metadata; parts of another version are refused with
a clear message, never misread.

Shipped scores: the package carries scores that cost hours of CPU to compute
(``scoring/shipped_scores/*.parquet``, the same schema, each file's metadata saying how it was made
and the command that remakes it; ``scoring/shipped_scores/PROVENANCE.md``). A store answers from
them when its own directory has no record for a key (its own records win); they are read-only and
never copied into the directory. ``shipped=False`` (``--no-shipped-scores``) ignores them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from search_spaces.core.atomic import write_parquet_atomic
from search_spaces.core.errors import NaswotError
from search_spaces.core.status import Status

STORE_VERSION = "2"
_VERSION_KEY = b"naswot.score_store.version"

SCHEMA = pa.schema(
    [
        ("space", pa.string()),
        ("arch_key", pa.string()),
        ("build", pa.string()),
        ("num_classes", pa.int32()),
        ("dataset", pa.string()),
        ("images", pa.string()),
        ("batch_size", pa.int32()),
        ("batch_seed", pa.int64()),
        ("init_seed", pa.int64()),
        ("proxy", pa.string()),
        ("arch", pa.string()),
        ("score", pa.float64()),
        ("build_s", pa.float64()),
        ("score_s", pa.float64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("device", pa.string()),
        ("hardware", pa.string()),
        ("worker", pa.string()),
        ("created_unix", pa.float64()),
    ],
    metadata={_VERSION_KEY: STORE_VERSION.encode()},
)

DEFAULT_STORE = Path("runs") / "scores"
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped_scores"
SHIPPED_META = {
    "command": b"naswot.shipped.command",  # the command that recomputes the file's scores
    "code": b"naswot.shipped.code",  # naswot version and git commit the scores were computed with
    "created": b"naswot.shipped.created",  # UTC date
    "hardware": b"naswot.shipped.hardware",  # where they were computed
}


class ScoreStoreError(NaswotError, ValueError):
    """A score store part that this version of naswot cannot read (older format or corrupt)."""


@dataclass(frozen=True)
class ScoreKey:
    """Everything a score depends on.

    Attributes:
        arch_key: the space's key of the cell (``SearchSpace.key``).
        build: the space's build options that change the network (e.g. ``"stem_channels=64"``), or "".
        num_classes: classes of the network's head.
        images: content hash of the minibatch (``scoring.scorer.batch_fingerprint``).
        proxy: the proxy name (``+noise`` appended for the noise-input ablation).
    """

    space: str
    arch_key: str
    dataset: str
    images: str
    batch_size: int
    batch_seed: int
    init_seed: int
    proxy: str = "naswot"
    num_classes: int = 10
    build: str = ""


@dataclass(frozen=True)
class ScoreRecord:
    """One scored cell: the key, the value, its cost and how it ended."""

    key: ScoreKey
    arch: str
    score: float
    build_s: float
    score_s: float
    status: Status
    error: str = ""
    device: str = "cpu"
    created_unix: float = 0.0
    hardware: str = ""  # what ``device`` was: e.g. "cpu:Intel Xeon ...", "cuda:NVIDIA H200"
    worker: str = ""  # who scored it, e.g. "ray-actor-0.1@1a2b3c4d/gpu0" (node and GPU id); "" inline

    def row(self) -> dict:
        row = asdict(self.key)
        row.update(
            arch=self.arch,
            score=self.score,
            build_s=self.build_s,
            score_s=self.score_s,
            status=self.status.value,
            error=self.error,
            device=self.device,
            hardware=self.hardware,
            worker=self.worker,
            created_unix=self.created_unix or time.time(),
        )
        return row


_KEY_FIELDS = tuple(ScoreKey.__dataclass_fields__)


def _from_row(row: dict) -> ScoreRecord:
    key = ScoreKey(**{f: row[f] for f in _KEY_FIELDS})
    return ScoreRecord(
        key,
        row["arch"],
        row["score"],
        row["build_s"],
        row["score_s"],
        Status(row["status"]),
        row["error"] or "",
        row["device"],
        row["created_unix"],
        row["hardware"] or "",
        row["worker"] or "",
    )


def read_store_part(path: Path) -> list[dict]:
    """The rows of one store part.

    Raises:
        ScoreStoreError: the part is not readable Parquet, or was written by another store format
            (the message names the file and what to do).
    """
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException) as exc:
        raise ScoreStoreError(f"score store part {str(path)!r} is not readable Parquet ({exc}); move it aside") from exc
    version = metadata.get(_VERSION_KEY, b"").decode() or "1 (unversioned)"
    if version != STORE_VERSION:
        raise ScoreStoreError(
            f"score store part {str(path)!r} has format version {version}, this naswot reads version "
            f"{STORE_VERSION} (whose key also holds the image content, the network's build and the device): "
            f"move the old store aside or pass another --store; its scores cannot be reused safely"
        )
    try:
        return pq.read_table(path, schema=SCHEMA).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise ScoreStoreError(f"score store part {str(path)!r} cannot be read: {exc}") from exc


class ScoreStore:
    """Read and append scores in ``directory`` (created at the first flush if missing).

    Raises:
        ScoreStoreError: a part of ``directory`` is of another store format or unreadable.

    ``get`` answers from memory; ``put`` buffers and writes a part every ``flush_every`` records;
    call :meth:`flush` (or use the store as a context manager) to write the rest.
    Failed records are kept (so the failure is visible) but ``get(..., include_failed=False)``
    skips them so they are retried.
    """

    def __init__(self, directory: str | Path = DEFAULT_STORE, flush_every: int = 200, shipped: bool = True) -> None:
        self.directory = Path(directory)
        self.flush_every = flush_every
        self._records: dict[ScoreKey, ScoreRecord] = {}
        self._pending: list[ScoreRecord] = []
        self._shipped: dict[ScoreKey, ScoreRecord] = shipped_records() if shipped else {}
        self.reload()

    def reload(self) -> None:
        """Read every part (later parts override earlier ones)."""
        parts = sorted(self.directory.glob("part-*.parquet"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        for part in parts:
            for row in read_store_part(part):
                record = _from_row(row)
                self._records[record.key] = record

    def __len__(self) -> int:
        """Records in the directory (and pending), not counting shipped scores."""
        return len(self._records)

    def __contains__(self, key: ScoreKey) -> bool:
        return self.get(key) is not None

    def get(self, key: ScoreKey, include_failed: bool = False) -> ScoreRecord | None:
        """The record of ``key``: the directory's, else a shipped one, else None."""
        record = self._records.get(key) or self._shipped.get(key)
        if record is not None and record.status is Status.FAILED and not include_failed:
            return None
        return record

    def records(self) -> list[ScoreRecord]:
        """The directory's records (shipped scores not included)."""
        return list(self._records.values())

    def put(self, record: ScoreRecord) -> None:
        """Add ``record`` (visible to ``get`` at once; on disk after the next flush)."""
        self._records[record.key] = record
        self._pending.append(record)
        if len(self._pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write pending records as one new part, atomically."""
        if not self._pending:
            return
        table = pa.Table.from_pylist([r.row() for r in self._pending], schema=SCHEMA)
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        write_parquet_atomic(table, self.directory / name)
        self._pending.clear()

    def frame(self):
        """All records as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([r.row() for r in self._records.values()], columns=SCHEMA.names)

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


def shipped_files(directory: Path | None = None) -> list[Path]:
    """The shipped score files (of :data:`SHIPPED_DIR` by default), in name order."""
    return sorted((directory or SHIPPED_DIR).glob("*.parquet"))


def shipped_metadata(path: Path) -> dict[str, str]:
    """How a shipped file was made (:data:`SHIPPED_META` fields; missing ones are "")."""
    metadata = pq.read_schema(path).metadata or {}
    return {name: metadata.get(key, b"").decode() for name, key in SHIPPED_META.items()}


_SHIPPED_CACHE: dict[Path, dict[ScoreKey, ScoreRecord]] = {}


def shipped_records(directory: Path | None = None) -> dict[ScoreKey, ScoreRecord]:
    """Every shipped record by key (read once per process; later files win on a repeated key).

    Raises:
        ScoreStoreError: a shipped file is unreadable or of another store format.
    """
    directory = directory or SHIPPED_DIR
    if directory not in _SHIPPED_CACHE:
        records: dict[ScoreKey, ScoreRecord] = {}
        for path in shipped_files(directory):
            for row in read_store_part(path):
                record = _from_row(row)
                records[record.key] = record
        _SHIPPED_CACHE[directory] = records
    return _SHIPPED_CACHE[directory]


def write_shipped(
    records: list[ScoreRecord], path: Path, *, command: str, code: str, created: str, hardware: str
) -> Path:
    """Write ``records`` as a shipped score file (atomically), with how they were made in its metadata."""
    metadata = dict(SCHEMA.metadata or {})
    for name, value in (("command", command), ("code", code), ("created", created), ("hardware", hardware)):
        metadata[SHIPPED_META[name]] = value.encode()
    rows = sorted((r.row() for r in records), key=lambda row: (row["space"], row["proxy"], row["arch_key"]))
    table = pa.Table.from_pylist(rows, schema=SCHEMA).replace_schema_metadata(metadata)
    write_parquet_atomic(table, path)
    return path
