"""Ingestion: landing CSV files -> bronze Iceberg tables, incrementally and exactly once.

extract (discover + read) and load (Iceberg appends + ledger commit) live here; every row-level
transformation is a pure function in ``ingestion.transform``. See ``ingestion.ledger`` for the
exactly-once protocol.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException, CapturedException

from ingestion import transform as T
from ingestion.config import Settings
from ingestion.errors import IngestAborted
from ingestion.faults import checkpoint
from ingestion.files import (
    HeaderError,
    LandingFile,
    derive_file_date,
    read_header,
    runaway_quote,
)
from ingestion.landing import Landing, open_landing
from ingestion.ledger import FileRecord, Ledger
from ingestion.registry import LINEAGE_COLUMNS, QUARANTINE_TABLE, SOURCES, Source
from ingestion.spark import TABLE_PROPERTIES

log = logging.getLogger(__name__)

QUARANTINE_DDL = f"""
create table if not exists {QUARANTINE_TABLE} (
    source string comment 'Registry source name',
    source_file string comment 'Landing file, relative to the landing root',
    record_number bigint comment '1-based record position in the file',
    raw_record string comment 'The malformed line, or the fields as read (JSON)',
    reason string comment 'Why the row could not be typed (column, value, expected type)',
    file_hash string comment 'SHA-256 of the landing file',
    batch_id bigint comment 'Ingestion batch',
    quarantined_at timestamp comment 'When the batch ran (UTC)'
) using iceberg {TABLE_PROPERTIES}
"""


@dataclass
class SourceReport:
    files_ingested: int = 0
    files_duplicate: int = 0
    files_rejected: int = 0
    rows_ingested: int = 0
    rows_quarantined: int = 0


@dataclass
class IngestReport:
    batch_id: int | None = None
    sources: dict[str, SourceReport] = field(default_factory=dict)
    files: list[FileRecord] = field(default_factory=list)
    rolled_back: list[int] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    landing_missing: str | None = None
    archived: list[str] = field(default_factory=list)
    other_sources: int = 0
    """Landing files of sources this run did not select (``--source``): left alone, counted only."""

    @property
    def rows_quarantined(self) -> int:
        return sum(s.rows_quarantined for s in self.sources.values())

    @property
    def files_rejected(self) -> int:
        return sum(s.files_rejected for s in self.sources.values())


def sql_string(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_bronze_table(spark: SparkSession, source: Source) -> None:
    columns = [f"`{c.name}` {c.type} comment {sql_string(c.description)}" for c in source.columns]
    columns += [f"`{name}` {kind} comment {sql_string(doc)}" for name, kind, doc in LINEAGE_COLUMNS]
    partition = f"partitioned by ({', '.join(source.partition_by)})" if source.partition_by else ""
    spark.sql(
        f"create table if not exists {source.table} ({', '.join(columns)}) using iceberg {partition} {TABLE_PROPERTIES}"
    )


def ensure_tables(spark: SparkSession, sources: Sequence[Source]) -> Ledger:
    """Databases, bronze tables (empty until files arrive, so dbt always finds them), quarantine."""
    spark.sql("create database if not exists bronze")
    for source in sources:
        create_bronze_table(spark, source)
    spark.sql(QUARANTINE_DDL)
    ledger = Ledger(spark)
    ledger.ensure_tables()
    return ledger


def spark_location(file: LandingFile) -> str:
    """Where Spark reads the file: its URI when it has one (``s3://`` on Glue), else the local path."""
    return file.uri or str(file.abs_path)


def hadoop_path(file: LandingFile) -> str:
    """The file's Spark location with Hadoop glob characters escaped."""
    text = spark_location(file)
    for char in "\\[]{}*?":
        text = text.replace(char, "\\" + char)
    return text


def read_raw(spark: SparkSession, source: Source, files: Sequence[LandingFile], width: int) -> DataFrame:
    """Read files sharing one header as all-string positional columns plus path and split offset."""
    options = source.csv
    df = (
        spark.read.schema(T.raw_read_schema(width))
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", T.CORRUPT)
        .option("sep", options.delimiter)
        .option("quote", options.quote)
        .option("escape", options.escape)
        .option("encoding", options.encoding)
        .option("multiLine", options.multiline)
        .csv([hadoop_path(f) for f in files])
    )
    return df.select(
        "*",
        T.normalize_path(F.col("_metadata.file_path")).alias(T.PATH),
        F.col("_metadata.file_block_start").alias("_block_start"),
    )


EXAMPLES = 3
"""Quarantined records listed per file in the run summary."""


class UnreadableFiles(Exception):
    """Spark could not read a group of files; nothing was written for them."""


class BatchWriter:
    """Parses, types and appends one batch's files for one source."""

    def __init__(self, spark: SparkSession, batch_id: int, ingested_at: dt.datetime) -> None:
        self.spark = spark
        self.batch_id = batch_id
        self.ingested_at = ingested_at

    def write_group(
        self,
        source: Source,
        files: Sequence[LandingFile],
        header: Sequence[str],
        records: dict[str, FileRecord],
    ) -> None:
        mapping, _, _ = T.header_mapping(source, header)
        lineage_rows = [
            (spark_location(f), f.rel_path, records[f.rel_path].file_date, records[f.rel_path].file_hash) for f in files
        ]
        lineage = self.spark.createDataFrame(
            lineage_rows, "_path string, _source_file string, _file_date date, _file_hash string"
        )
        raw = read_raw(self.spark, source, files, len(header))
        df = (
            T.with_record_number(raw)
            .join(F.broadcast(lineage), T.PATH, "left")
            .transform(lambda d: T.with_typed_columns(d, source, mapping))
            .withColumn("_raw_record", T.raw_record(raw, len(header), header))
            .withColumn("_batch_id", F.lit(self.batch_id).cast("bigint"))
            .withColumn("_ingested_at", F.lit(self.ingested_at).cast("timestamp"))
        ).persist()
        try:
            try:  # the read happens here, before any write: failing now is safe to retry
                counts = (
                    df.groupBy("_source_file")
                    .agg(
                        F.count(F.lit(1)).alias("rows"),
                        F.sum(F.when(F.size(T.ERRORS) > 0, 1).otherwise(0)).alias("bad"),
                    )
                    .collect()
                )
            except (AnalysisException, CapturedException, Py4JJavaError) as exc:
                raise UnreadableFiles(_error_text(exc)) from exc
            if any(row["_source_file"] is None for row in counts):
                raise RuntimeError("internal error: rows could not be attributed to a landing file")
            valid, bad = T.split_quarantine(df)
            extras = T.extra_columns(source, header)
            table_columns = self.evolve_schema(source, extras)
            T.bronze_columns(valid, table_columns, extras).writeTo(source.table).option(
                "snapshot-property.lakehouse.batch-id", str(self.batch_id)
            ).append()
            checkpoint("after_bronze_append")
            if any(row["bad"] for row in counts):
                T.quarantine_columns(bad, source).writeTo(QUARANTINE_TABLE).option(
                    "snapshot-property.lakehouse.batch-id", str(self.batch_id)
                ).append()
                checkpoint("after_quarantine_append")
                examples = (
                    bad.select("_source_file", "_record_number", F.array_join(T.ERRORS, "; ").alias("reason"))
                    .orderBy("_source_file", "_record_number")
                    .limit(EXAMPLES * len(files))
                    .collect()
                )
                for row in examples:
                    shown = records[row["_source_file"]].examples
                    if len(shown) < EXAMPLES:
                        shown.append(f"record {row['_record_number']}: {row['reason']}")
        finally:
            df.unpersist()
        for row in counts:
            record = records[row["_source_file"]]
            record.rows_read = int(row["rows"])
            record.rows_quarantined = int(row["bad"])
            record.rows_ingested = record.rows_read - record.rows_quarantined

    def evolve_schema(self, source: Source, extras: dict[str, int]) -> list[str]:
        """Add the file's extra header columns to the bronze table (Iceberg schema evolution, nullable
        strings: earlier rows read null); return the table's columns in order."""
        columns = self.spark.table(source.table).columns
        new = [name for name in extras if name not in columns]
        if new:
            added = ", ".join(f"`{name}` string comment 'extra header column, kept as delivered'" for name in new)
            self.spark.sql(f"alter table {source.table} add columns ({added})")
            self.spark.catalog.refreshTable(source.table)
            columns = self.spark.table(source.table).columns
        return columns


def _error_text(exc: Exception) -> str:
    text = getattr(exc, "desc", None) or str(exc)
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


def plan_files(
    source: Source, files: Sequence[LandingFile], records: dict[str, FileRecord]
) -> dict[tuple[str, ...], list[LandingFile]]:
    """Read headers; reject unusable files (recorded with a reason); group the rest by header."""
    groups: dict[tuple[str, ...], list[LandingFile]] = defaultdict(list)
    for file in files:
        record = records[file.rel_path]
        if file.size == 0:
            record.message = "empty file (zero bytes): nothing to ingest"
            continue
        try:
            header = read_header(file.abs_path, source.csv.delimiter, source.csv.quote, source.csv.encoding)
        except HeaderError as exc:
            record.status, record.message = "rejected", str(exc)
            continue
        if source.csv.multiline:
            line = runaway_quote(file.abs_path, source.csv.delimiter, source.csv.quote, source.csv.encoding)
            if line is not None:
                record.status = "rejected"
                record.message = (
                    f"line {line}: a quote opens and never closes; the rest of the file would be read "
                    "as one field (fix the quoting and deliver the file again)"
                )
                continue
        _, missing, extra = T.header_mapping(source, header)
        lacking = [c for c in source.required_columns if c in missing]
        if len(missing) == len(source.columns):
            record.status = "rejected"
            record.message = no_header_message(source, header)
            continue
        if lacking:
            record.status = "rejected"
            record.message = f"header lacks required column(s): {', '.join(lacking)}"
            continue
        notes = []
        if missing:
            notes.append(f"columns missing from header (null): {', '.join(missing)}")
        if extra:
            kept = ", ".join(T.extra_columns(source, header))
            notes.append(f"extra columns kept in {source.table} as strings: {kept}" if kept else "blank header names")
        record.message = "; ".join(notes) or None
        groups[tuple(header)].append(file)
    return groups


def no_header_message(source: Source, header: Sequence[str]) -> str:
    """Why a first line is not a header, without repeating it (it may be a row of data: PII)."""
    expected = [c.name for c in source.columns]
    shown = ", ".join(expected[:8]) + (f" and {len(expected) - 8} more" if len(expected) > 8 else "")
    return (
        f"header matches none of the expected columns: its first line has {len(header)} field(s), "
        f"the registry expects {len(expected)} named {shown}; is the header missing (the first line is data), "
        f"or a wrong delimiter (expected {source.csv.delimiter!r}) or a wrong file?"
    )


def ingest(
    spark: SparkSession,
    settings: Settings,
    sources: Sequence[Source] = SOURCES,
    only: str | None = None,
    settle_seconds: float | None = None,
    landing: Landing | None = None,
) -> IngestReport:
    """Ingest every new landing file of ``sources`` (or only the source named ``only``) from ``landing``
    (default: ``open_landing(settings)``, the folder or the ``s3://`` root of ``settings``).

    Raises ``IngestAborted`` (after rolling the batch back) when a file changes while it is read.
    """
    settle_seconds = settings.settle_seconds if settle_seconds is None else settle_seconds
    ledger = ensure_tables(spark, sources)
    report = IngestReport()
    tables = [(s.table, "_batch_id") for s in sources] + [(QUARANTINE_TABLE, "batch_id")]
    report.rolled_back = ledger.recover(tables)

    landing = open_landing(settings) if landing is None else landing
    if not landing.exists():
        report.landing_missing = landing.description
    selected = [s for s in sources if only is None or s.name == only]
    found = landing.discover(sources, settle_seconds=settle_seconds)  # all: a file belongs to one source
    report.unmatched, report.unsettled, report.outside = found.unmatched, found.unsettled, found.outside
    chosen = {s.name for s in selected}
    report.other_sources = sum(1 for f in found.files if f.source not in chosen)
    found.files = [f for f in found.files if f.source in chosen]
    known = ledger.known_files()
    new_files = [f for f in found.files if f.key not in known.keys]
    for source in selected:
        report.sources[source.name] = SourceReport()
    # Files committed by an earlier run that crashed before archiving them: finish the move.
    committed = [(f.source, f.rel_path, *known.keys[f.key]) for f in found.files if f.key in known.keys]
    report.archived += archive_committed(landing, selected, committed)
    if not new_files:
        return report

    # Identity and dedup: content seen before (or twice in this batch) is a duplicate.
    records: dict[str, FileRecord] = {}
    seen = dict(known.ingested_hashes)
    by_source: dict[str, list[LandingFile]] = defaultdict(list)
    source_of = {s.name: s for s in selected}
    for file in new_files:
        source = source_of[file.source]
        scan = landing.scan(file, source.csv.encoding)
        digest = scan.sha256
        record = FileRecord(file.source, file.rel_path, file.size, file.mtime_ms, digest, None, "ingested")
        records[file.rel_path] = record
        if scan.problem:
            record.status, record.message = "rejected", scan.problem
            continue
        try:
            record.file_date = derive_file_date(source.file_date, file.rel_path)
        except ValueError as exc:
            record.status, record.message = "rejected", f"file date in the path is not a date: {exc}"
            continue
        if record.file_date is None and source.file_date is not None and source.file_date.required:
            record.status = "rejected"
            record.message = f"cannot derive the file date from the path (expected {source.file_date.regex})"
            continue
        if (file.source, digest) in seen:
            record.status, record.duplicate_of = "duplicate", seen[(file.source, digest)]
            record.message = f"same content as {record.duplicate_of}: skipped"
            continue
        seen[(file.source, digest)] = file.rel_path
        by_source[file.source].append(file)

    batch_id = ledger.next_batch_id()
    report.batch_id = batch_id
    ingested_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    ledger.start(batch_id, f"{len(new_files)} new file(s)")
    checkpoint("after_batch_started")
    writer = BatchWriter(spark, batch_id, ingested_at)
    for source_name, files in by_source.items():
        source = source_of[source_name]
        for header, group in plan_files(source, files, records).items():
            _write_group_or_files(writer, source, group, header, records)
    changed = [f.rel_path for f in new_files if f.key != landing.restat(f)]
    if changed:
        ledger.recover(tables)
        raise IngestAborted(
            f"{', '.join(changed[:5])} changed while being ingested (still being written?); batch {batch_id} "
            "was rolled back, nothing was committed. Re-run when the upload is complete; writers should "
            "upload under a temporary name and rename, or set LAKEHOUSE_SETTLE_SECONDS"
        )
    ledger.commit(batch_id, list(records.values()), ingested_at)
    checkpoint("after_ledger_commit")
    report.archived += archive_committed(
        landing, selected, [(r.source, r.file_path, r.status, r.file_hash) for r in records.values()]
    )

    report.files = list(records.values())
    for record in report.files:
        summary = report.sources[record.source]
        if record.status == "ingested":
            summary.files_ingested += 1
            summary.rows_ingested += record.rows_ingested
            summary.rows_quarantined += record.rows_quarantined
        elif record.status == "duplicate":
            summary.files_duplicate += 1
        else:
            summary.files_rejected += 1
    return report


ARCHIVABLE = ("ingested", "duplicate")


def archive_committed(
    landing: Landing, sources: Sequence[Source], files: Sequence[tuple[str, str, str, str]]
) -> list[str]:
    """Move committed files ((source, path, status, sha256)) of ``archive=True`` sources out of the
    landing zone. Only ever called after the ledger commit; rejected files stay for the operator."""
    archiving = {s.name for s in sources if s.archive}
    moved = []
    for source_name, rel_path, status, digest in files:
        if status in ARCHIVABLE and source_name in archiving:
            landing.archive(rel_path, digest)
            moved.append(rel_path)
    return moved


def _write_group_or_files(
    writer: BatchWriter,
    source: Source,
    group: list[LandingFile],
    header: tuple[str, ...],
    records: dict[str, FileRecord],
) -> None:
    """Write a header group at once; if Spark cannot read it, retry file by file and reject the
    files that still fail (e.g. a truncated gzip), so one bad file never blocks the others."""
    try:
        writer.write_group(source, group, header, records)
        return
    except UnreadableFiles as exc:
        if len(group) == 1:
            record = records[group[0].rel_path]
            record.status, record.message = "rejected", f"unreadable: {exc}"
            return
        log.warning("group read failed (%s); retrying file by file", exc)
    for file in group:
        _write_group_or_files(writer, source, [file], header, records)
