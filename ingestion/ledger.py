"""The ingestion ledger: which landing files were committed, in Iceberg tables beside the data.

Exactly-once protocol (one writer at a time, guaranteed by the run lock):

1. ``start(batch)``: append a ``started`` event to ``meta.ingest_batches``.
2. Append the batch's rows to ``bronze.<source>`` and ``bronze.quarantine``; every row carries
   ``_batch_id`` (``BATCH_COLUMN``). Each append is an atomic Iceberg commit.
3. ``commit(batch, files)``: ONE append to ``meta.ingest_files`` listing every file of the batch.
   This is the commit point: a batch is committed if and only if its file rows exist.

``recover()`` runs before every ingestion: a batch that started but never committed (the process
died between 1 and 3) has its rows deleted from every bronze table and the quarantine, and is
marked ``rolled_back``; its files are then simply ingested again. A crash at any instant therefore
leaves either the whole batch or nothing, and a re-run never doubles or drops a row.

Because the ledger lives in Iceberg tables in the warehouse, it travels with the data (S3 + Glue
Catalog on AWS) and survives loss of the local metastore.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ingestion.spark import TABLE_PROPERTIES

META_DB = "meta"
BATCH_COLUMN = "_batch_id"
"""The column of every bronze row (and quarantined row) naming the batch that wrote it."""
BATCHES = f"{META_DB}.ingest_batches"
FILES = f"{META_DB}.ingest_files"


class FileStatus(StrEnum):
    """What a batch did with a landing file (``meta.ingest_files.status``; the values are stored)."""

    INGESTED = "ingested"
    """Its rows are in bronze (or the quarantine); an empty file is ingested with no rows."""
    DUPLICATE = "duplicate"
    """Same content as a committed file of the same source: skipped."""
    REJECTED = "rejected"
    """Unusable (header, encoding, file date, unreadable): nothing written, ``message`` says why."""


BATCHES_DDL = f"""
create table if not exists {BATCHES} (
    batch_id bigint comment 'Ingestion batch',
    event string comment 'started | rolled_back',
    event_at timestamp comment 'When the event was recorded (UTC)',
    detail string comment 'Free text: files planned, tables cleaned'
) using iceberg {TABLE_PROPERTIES}
"""

FILES_DDL = f"""
create table if not exists {FILES} (
    batch_id bigint comment 'Batch that committed the file',
    source string comment 'Registry source name',
    file_path string comment 'Path relative to the landing root',
    file_size bigint comment 'Bytes',
    file_mtime_ms bigint comment 'Modification time, epoch milliseconds',
    file_hash string comment 'SHA-256 of the content',
    file_date date comment 'Business date derived from the path',
    status string comment '{" | ".join(FileStatus)}',
    duplicate_of string comment 'For duplicates: the committed file with the same content',
    rows_read bigint comment 'Data records read from the file',
    rows_ingested bigint comment 'Records written to bronze',
    rows_quarantined bigint comment 'Records written to bronze.quarantine',
    message string comment 'Rejection reason or notes (missing/extra columns)',
    committed_at timestamp comment 'Commit time of the batch (UTC)'
) using iceberg {TABLE_PROPERTIES}
"""


ARCHIVABLE = (FileStatus.INGESTED, FileStatus.DUPLICATE)
"""Statuses whose files leave the landing zone of an ``archive=True`` source once committed."""


@dataclass(frozen=True)
class SourceFiles:
    """One source's line of ``lakehouse status``: the ledger's per-source totals."""

    source: str
    files: int = 0
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    rows_ingested: int = 0
    rows_quarantined: int = 0
    last_batch_at: dt.datetime | None = None


@dataclass(frozen=True)
class CommittedFile:
    source: str
    file_path: str
    file_hash: str
    status: FileStatus
    rows_read: int


@dataclass(frozen=True)
class CommittedBatch:
    """One source's share of a committed batch."""

    batch_id: int
    source: str
    committed_us: int
    """Commit time, microseconds since the epoch (UTC)."""
    rows_ingested: int
    rows_quarantined: int


@dataclass(frozen=True)
class Rejection:
    source: str
    file_path: str
    message: str | None


@dataclass
class FileRecord:
    """One row of ``meta.ingest_files``."""

    source: str
    file_path: str
    file_size: int
    file_mtime_ms: int
    file_hash: str
    file_date: dt.date | None
    status: FileStatus
    duplicate_of: str | None = None
    rows_read: int = 0
    rows_ingested: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    examples: list[str] = field(default_factory=list)
    """First quarantined records of the file with their reasons (run summary only, not a column)."""


STATUS_COUNTS = (
    (FileStatus.INGESTED, "ingested"),
    (FileStatus.DUPLICATE, "duplicates"),
    (FileStatus.REJECTED, "rejected"),
)


@dataclass(frozen=True)
class KnownFiles:
    keys: dict[tuple[str, str, int, int], tuple[str, str]]
    """(source, path, size, mtime) of every file the ledger has seen -> (status, sha256)."""
    ingested_hashes: dict[tuple[str, str], str]
    """(source, sha256) -> path of the file that committed that content."""


class Ledger:
    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def ensure_tables(self) -> None:
        self.spark.sql(f"create database if not exists {META_DB}")
        self.spark.sql(BATCHES_DDL)
        self.spark.sql(FILES_DDL)

    # --- reads ---------------------------------------------------------------------------
    def known_files(self) -> KnownFiles:
        rows = (
            self.spark.table(FILES)
            .select("source", "file_path", "file_size", "file_mtime_ms", "file_hash", "status")
            .collect()
        )
        keys = {(r.source, r.file_path, r.file_size, r.file_mtime_ms): (r.status, r.file_hash) for r in rows}
        hashes = {(r.source, r.file_hash): r.file_path for r in rows if r.status == FileStatus.INGESTED}
        return KnownFiles(keys, hashes)

    def sources_with_files(self) -> set[str]:
        """Sources that have at least one committed (ingested) file."""
        ingested = self.spark.table(FILES).filter(F.col("status") == FileStatus.INGESTED.value)
        return {r.source for r in ingested.select("source").distinct().collect()}

    def per_source(self) -> dict[str, SourceFiles]:
        """Files and rows per source, over every committed batch."""
        status = F.col("status")
        rows = (
            self.spark.table(FILES)
            .groupBy("source")
            .agg(
                F.count(F.lit(1)).alias("files"),
                *[F.count_if(status == s.value).alias(name) for s, name in STATUS_COUNTS],
                F.coalesce(F.sum("rows_ingested"), F.lit(0)).alias("rows_ingested"),
                F.coalesce(F.sum("rows_quarantined"), F.lit(0)).alias("rows_quarantined"),
                F.max("committed_at").alias("last_batch_at"),
            )
            .collect()
        )
        return {r.source: SourceFiles(**r.asDict()) for r in rows}

    def rejections(self) -> list[Rejection]:
        """Every rejected file with its reason, by path."""
        rows = (
            self.spark.table(FILES)
            .filter(F.col("status") == FileStatus.REJECTED.value)
            .select("source", "file_path", "message")
            .orderBy("file_path")
            .collect()
        )
        return [Rejection(**r.asDict()) for r in rows]

    def committed_files(self, sources: Iterable[str]) -> list[CommittedFile]:
        """The ingested and rejected files of ``sources`` (those whose rows the audit counts)."""
        counted = [FileStatus.INGESTED.value, FileStatus.REJECTED.value]
        rows = (
            self.spark.table(FILES)
            .filter(F.col("status").isin(counted) & F.col("source").isin(list(sources)))
            .select("source", "file_path", "file_hash", "status", "rows_read")
            .collect()
        )
        return [CommittedFile(r.source, r.file_path, r.file_hash, FileStatus(r.status), r.rows_read or 0) for r in rows]

    def committed_batches(self) -> list[CommittedBatch]:
        """Per committed batch and source: the commit time and the rows it wrote (``lakehouse run``
        builds what the batches committed since its last successful build changed)."""
        rows = (
            self.spark.table(FILES)
            .groupBy("batch_id", "source")
            .agg(
                F.max(F.unix_micros("committed_at")).alias("committed_us"),
                F.coalesce(F.sum("rows_ingested"), F.lit(0)).alias("rows_ingested"),
                F.coalesce(F.sum("rows_quarantined"), F.lit(0)).alias("rows_quarantined"),
            )
            .collect()
        )
        return [CommittedBatch(**r.asDict()) for r in rows]

    def next_batch_id(self) -> int:
        latest = self.spark.table(BATCHES).agg(F.max("batch_id")).first()[0]
        return int(latest or 0) + 1

    def orphaned_batches(self) -> list[int]:
        """Batches that started but neither committed nor were rolled back."""
        events = self.spark.table(BATCHES)
        started = {r[0] for r in events.filter("event = 'started'").select("batch_id").collect()}
        rolled = {r[0] for r in events.filter("event = 'rolled_back'").select("batch_id").collect()}
        committed = {r[0] for r in self.spark.table(FILES).select("batch_id").distinct().collect()}
        return sorted(started - rolled - committed)

    # --- writes --------------------------------------------------------------------------
    def _event(self, batch_id: int, event: str, detail: str) -> None:
        row = [(batch_id, event, dt.datetime.now(dt.UTC).replace(tzinfo=None), detail)]
        df = self.spark.createDataFrame(row, self.spark.table(BATCHES).schema)
        df.writeTo(BATCHES).append()

    def start(self, batch_id: int, detail: str) -> None:
        self._event(batch_id, "started", detail)

    def commit(self, batch_id: int, files: Sequence[FileRecord], committed_at: dt.datetime) -> None:
        """The commit point: one atomic append of every file record of the batch."""
        schema = self.spark.table(FILES).schema
        rows = [
            # the status as a plain string: Spark's pickler knows no enum
            {
                **asdict(record),
                "status": FileStatus(record.status).value,
                "batch_id": batch_id,
                "committed_at": committed_at,
            }
            for record in files
        ]
        df = self.spark.createDataFrame([tuple(r[f.name] for f in schema) for r in rows], schema)
        df.writeTo(FILES).option("snapshot-property.lakehouse.batch-id", str(batch_id)).append()

    def recover(self, tables: Iterable[str]) -> list[int]:
        """Roll back orphaned batches: delete their rows (``BATCH_COLUMN``) from ``tables``."""
        orphans = self.orphaned_batches()
        for batch_id in orphans:
            cleaned = []
            for table in tables:
                if self.spark.catalog.tableExists(table):
                    self.spark.sql(f"delete from {table} where {BATCH_COLUMN} = {int(batch_id)}")
                    cleaned.append(table)
            self._event(batch_id, "rolled_back", "deleted rows from " + ", ".join(cleaned))
        return orphans
