"""Ingestion: landing CSV files -> bronze Iceberg tables, incrementally and exactly once.

extract (discover + read) and load (Iceberg appends + ledger commit) live here; every row-level
transformation is a pure function in ``ingestion.transform``. ``ingest`` runs the exactly-once
protocol of ``ingestion.ledger`` as named steps, each with explicit inputs and outputs:

1. ``prepare``: the tables exist (``ensure_tables``), an interrupted batch is rolled back;
2. ``find_new_files``: the landing zone's files, new ones apart from those the ledger knows;
3. ``identify``: every new file hashed; duplicates and files with a bad path decided;
4. ``begin_batch``: the ledger's ``start`` event;
5. ``write_batch``: per source and header group, the bronze and quarantine appends
   (``BatchWriter``); files whose header or bytes are unusable are rejected;
6. ``ensure_unchanged``: a file that changed while it was read aborts (and rolls back) the batch;
7. ``Ledger.commit``: the commit point; then committed files are archived (``archive_committed``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException, CapturedException

from ingestion import transform
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
from ingestion.ledger import ARCHIVABLE, BATCH_COLUMN, FileRecord, FileStatus, KnownFiles, Ledger
from ingestion.registry import LINEAGE_COLUMNS, QUARANTINE_TABLE, SOURCES, Source
from ingestion.spark import TABLE_PROPERTIES, row_pass

log = logging.getLogger(__name__)

BATCH_PROPERTY = "snapshot-property.lakehouse.batch-id"
"""Every append of a batch records its id in the Iceberg snapshot's summary."""


def sql_string(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lineage_column_ddl(name: str) -> str:
    """A lineage column's definition, with the registry's type and description."""
    [(kind, doc)] = [(kind, doc) for column, kind, doc in LINEAGE_COLUMNS if column == name]
    return f"`{name}` {kind} comment {sql_string(doc)}"


QUARANTINE_DDL = f"""
create table if not exists {QUARANTINE_TABLE} (
    source string comment 'Registry source name',
    {lineage_column_ddl("_source_file")},
    {lineage_column_ddl("_record_number")},
    raw_record string comment 'The malformed line, or the fields as read (JSON)',
    reason string comment 'Why the row could not be typed (column, value, expected type)',
    {lineage_column_ddl("_file_hash")},
    {lineage_column_ddl(BATCH_COLUMN)},
    quarantined_at timestamp comment 'When the batch ran (UTC)'
) using iceberg {TABLE_PROPERTIES}
"""

QUARANTINE_RENAMED = {
    "source_file": "_source_file",
    "record_number": "_record_number",
    "file_hash": "_file_hash",
    "batch_id": BATCH_COLUMN,
}
"""The quarantine's lineage columns once had names of their own; a home from then is migrated."""


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


HASHED, INGESTED = "hashed", "ingested"
"""The steps a ``Progress`` hears of."""


class Progress(Protocol):
    """Where a batch is, for a caller that shows it (``lakehouse run``'s live progress): called with
    ``step`` ``HASHED`` after each new file is hashed, and ``INGESTED`` after each group of files
    is written, with the files ``done`` of ``total`` and the ``rows`` read so far. A plain callable:
    ingestion imports nothing to show it."""

    def __call__(self, step: str, done: int, total: int, rows: int = 0) -> None: ...


def no_progress(step: str, done: int, total: int, rows: int = 0) -> None:
    """The default ``Progress``: nothing shown."""


# --- tables ------------------------------------------------------------------------------------
def create_bronze_table(spark: SparkSession, source: Source) -> None:
    columns = [f"`{c.name}` {c.type} comment {sql_string(c.description)}" for c in source.columns]
    columns += [lineage_column_ddl(name) for name, _, _ in LINEAGE_COLUMNS]
    partition = f"partitioned by ({', '.join(source.partition_by)})" if source.partition_by else ""
    spark.sql(
        f"create table if not exists {source.table} ({', '.join(columns)}) using iceberg {partition} {TABLE_PROPERTIES}"
    )


def migrate_quarantine(spark: SparkSession) -> list[str]:
    """Give the quarantine's lineage columns bronze's names (``QUARANTINE_RENAMED``) in a home created
    before they had them: one ``rename column`` (an Iceberg metadata commit, no data rewritten) per
    column still named the old way. Idempotent, and a migration interrupted half-way is finished by
    the next call. Returns the old names renamed."""
    columns = set(spark.table(QUARANTINE_TABLE).columns)
    renamed = [old for old, new in QUARANTINE_RENAMED.items() if old in columns and new not in columns]
    for old in renamed:
        spark.sql(f"alter table {QUARANTINE_TABLE} rename column `{old}` to `{QUARANTINE_RENAMED[old]}`")
    if renamed:
        spark.catalog.refreshTable(QUARANTINE_TABLE)
    return renamed


def ensure_tables(spark: SparkSession, sources: Sequence[Source]) -> Ledger:
    """Databases, bronze tables (empty until files arrive, so dbt always finds them), quarantine."""
    spark.sql("create database if not exists bronze")
    for source in sources:
        create_bronze_table(spark, source)
    spark.sql(QUARANTINE_DDL)
    migrate_quarantine(spark)
    ledger = Ledger(spark)
    ledger.ensure_tables()
    return ledger


def spark_location(file: LandingFile) -> str:
    """Where Spark reads the file: its URI when it has one (``s3://`` on Glue), else the local path."""
    return file.uri or str(file.abs_path)


def batch_tables(sources: Sequence[Source]) -> list[str]:
    """Every table a batch appends to (rows carry ``BATCH_COLUMN``): what a rollback cleans."""
    return [s.table for s in sources] + [QUARANTINE_TABLE]


# --- reading -----------------------------------------------------------------------------------
def hadoop_path(file: LandingFile) -> str:
    """The file's Spark location with Hadoop glob characters escaped."""
    text = spark_location(file)
    for char in "\\[]{}*?":
        text = text.replace(char, "\\" + char)
    return text


def read_raw(spark: SparkSession, source: Source, files: Sequence[LandingFile], width: int) -> DataFrame:
    """Read files sharing one header as all-string positional columns plus the file's URI (as Spark names
    it) and split offset."""
    options = source.csv
    df = (
        spark.read.schema(transform.raw_read_schema(width))
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", transform.CORRUPT)
        .option("sep", options.delimiter)
        .option("quote", options.quote)
        .option("escape", options.escape)
        .option("encoding", options.encoding)
        .option("multiLine", options.multiline)
        .csv([hadoop_path(f) for f in files])
    )
    return df.select(
        "*",
        F.col("_metadata.file_path").alias(transform.URI),
        F.col("_metadata.file_block_start").alias(transform.BLOCK_START),
    )


EXAMPLES = 3
"""Quarantined records listed per file in the run summary."""


class UnreadableFiles(Exception):
    """Spark could not read a group of files; nothing was written for them."""


@dataclass(frozen=True)
class Verdict:
    """What happens to a file, decided before or instead of reading its rows."""

    status: FileStatus
    message: str | None = None


@dataclass(frozen=True)
class Written:
    """A file's rows as one batch wrote them."""

    rows_read: int
    rows_quarantined: int
    examples: tuple[str, ...] = ()
    """Its first quarantined records with their reasons (at most ``EXAMPLES``)."""


@dataclass(frozen=True)
class Batch:
    batch_id: int
    ingested_at: dt.datetime


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
        identities: Mapping[str, FileRecord],
    ) -> dict[str, Written]:
        """Append the rows of ``files`` (sharing ``header``) to bronze, and those that cannot be typed to
        the quarantine; ``identities`` gives each file's date and hash. Returns what each file wrote
        (a file without data rows is absent). Raises ``UnreadableFiles`` when nothing was written.

        The passes over the files: one that only splits lines (records per split, for record numbers and
        rows read), one that parses, types and appends the valid rows to bronze, and, only when that
        append left rows out, one more that appends the invalid rows to the quarantine. No copy of the
        rows is kept; counts and examples are read back from what the appends committed."""
        locations = {spark_location(f): f.rel_path for f in files}
        rows_read, offsets = self.read_counts(source, files, header, locations)
        if not rows_read:
            return {}
        rows = self.typed_rows(source, files, header, identities, offsets)
        valid, bad = transform.split_quarantine(rows)
        self.append_bronze(source, valid, header, rows)
        paths = sorted(rows_read)
        in_bronze = self.written_counts(source.table, paths)
        written = {path: Written(rows, rows - in_bronze.get(path, (0, 0, 0))[0]) for path, rows in rows_read.items()}
        if any(w.rows_quarantined for w in written.values()):
            self.append_quarantine(source, bad)
            examples = self.quarantine_examples(source, paths, limit=EXAMPLES * len(files))
            written = {path: replace(w, examples=examples.get(path, ())) for path, w in written.items()}
            in_quarantine = self.written_counts(QUARANTINE_TABLE, paths, source.name)
        else:
            in_quarantine = {}
        self.ensure_conserved(written, in_bronze, in_quarantine)
        return written

    def read_counts(
        self, source: Source, files: Sequence[LandingFile], header: Sequence[str], locations: Mapping[str, str]
    ) -> tuple[dict[str, int], list[tuple[str, str, int, int, int]]]:
        """Rows read per file, and each split's (URI, file, block start, first read order, rows before)
        (``transform.block_offsets``). The files are
        read here, before any write: failing now (``UnreadableFiles``) is safe to retry."""
        raw = transform.with_read_order(read_raw(self.spark, source, files, len(header)))
        try:
            counts = transform.block_counts(raw).collect()
        except (AnalysisException, CapturedException, Py4JJavaError) as exc:
            raise UnreadableFiles(_error_text(exc)) from exc
        rows_read: dict[str, int] = defaultdict(int)
        for _, path, _, _, rows in counts:
            if path not in locations:
                raise RuntimeError("internal error: rows could not be attributed to a landing file")
            rows_read[locations[path]] += rows
        files_of = {uri: locations[path] for uri, path, _, _, _ in counts}
        offsets = transform.block_offsets([(uri, start, first, rows) for uri, _, start, first, rows in counts])
        return dict(rows_read), [(uri, files_of[uri], start, first, before) for uri, start, first, before in offsets]

    def typed_rows(
        self,
        source: Source,
        files: Sequence[LandingFile],
        header: Sequence[str],
        identities: Mapping[str, FileRecord],
        offsets: Sequence[tuple[str, str, int, int, int]],
    ) -> DataFrame:
        """The files' records typed by the registry, with lineage, errors and the raw record."""
        mapping, _, _ = transform.header_mapping(source, header)
        identity = {path: (identities[path].file_date, identities[path].file_hash) for path in identities}
        splits = self.spark.createDataFrame(
            [(uri, start, first, before, path, *identity[path]) for uri, path, start, first, before in offsets],
            f"{transform.URI} string, {transform.BLOCK_START} bigint, _first_read bigint, _rows_before bigint, "
            "_source_file string, _file_date date, _file_hash string",
        )
        # Typed in the projection that numbers the rows (see ``transform.with_typed_columns``).
        raw = transform.with_typed_columns(read_raw(self.spark, source, files, len(header)), source, mapping, True)
        return (
            raw.join(F.broadcast(splits), [transform.URI, transform.BLOCK_START], "left")
            .transform(transform.with_record_number)
            .withColumn("_raw_record", transform.raw_record(len(header), header))
            .withColumn(BATCH_COLUMN, F.lit(self.batch_id).cast("bigint"))
            .withColumn("_ingested_at", F.lit(self.ingested_at).cast("timestamp"))
        )

    def written_counts(self, table: str, paths: Sequence[str], source: str | None = None) -> dict[str, tuple]:
        """Per file of ``paths``: (rows, lowest and highest record number) this batch appended to ``table``
        (the quarantine: of ``source``). Reads two columns of the batch's own data files."""
        rows = self.spark.table(table).where(
            (F.col(BATCH_COLUMN) == self.batch_id) & F.col("_source_file").isin(list(paths))
        )
        if source is not None:
            rows = rows.where(F.col("source") == source)
        counts = rows.groupBy("_source_file").agg(F.count(F.lit(1)), F.min("_record_number"), F.max("_record_number"))
        return {row[0]: (int(row[1]), row[2], row[3]) for row in counts.collect()}

    @staticmethod
    def ensure_conserved(written: Mapping[str, Written], *tables: Mapping[str, tuple]) -> None:
        """Every record read is in bronze or the quarantine, numbered 1..rows: else the batch must not
        commit (it is rolled back by the next run)."""
        for path, outcome in written.items():
            parts = [table[path] for table in tables if path in table]
            rows = sum(part[0] for part in parts)
            low = min(part[1] for part in parts) if parts else None
            high = max(part[2] for part in parts) if parts else None
            if (rows, low, high) != (outcome.rows_read, 1, outcome.rows_read):
                raise RuntimeError(
                    f"internal error: {path}: {outcome.rows_read} record(s) read, {rows} written "
                    f"(record numbers {low}..{high}); the batch is not committed"
                )

    def quarantine_examples(self, source: Source, paths: Sequence[str], limit: int) -> dict[str, tuple[str, ...]]:
        """The first quarantined records of each file with their reasons (``EXAMPLES`` per file), as the
        quarantine append wrote them."""
        rows = (
            self.spark.table(QUARANTINE_TABLE)
            .where(
                (F.col(BATCH_COLUMN) == self.batch_id)
                & (F.col("source") == source.name)
                & F.col("_source_file").isin(list(paths))
            )
            .select("_source_file", "_record_number", "reason")
            .orderBy("_source_file", "_record_number")
            .limit(limit)
            .collect()
        )
        examples: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            shown = examples[row["_source_file"]]
            if len(shown) < EXAMPLES:
                shown.append(f"record {row['_record_number']}: {row['reason']}")
        return {path: tuple(shown) for path, shown in examples.items()}

    def append_bronze(self, source: Source, valid: DataFrame, header: Sequence[str], rows: DataFrame) -> None:
        extras = transform.extra_columns(source, header)
        table_columns = self.evolve_schema(source, extras)
        appended = transform.bronze_columns(valid, table_columns, extras)
        try:
            with row_pass(self.spark):
                appended.writeTo(source.table).option(BATCH_PROPERTY, str(self.batch_id)).append()
        except (CapturedException, Py4JJavaError) as exc:
            # Nothing was committed. If the rows themselves cannot be read, the files are to blame.
            try:
                with row_pass(self.spark):
                    rows.write.format("noop").mode("overwrite").save()
            except (CapturedException, Py4JJavaError):
                raise UnreadableFiles(_error_text(exc)) from exc
            raise
        checkpoint("after_bronze_append")

    def append_quarantine(self, source: Source, bad: DataFrame) -> None:
        rows = transform.quarantine_columns(bad, source)
        with row_pass(self.spark):
            rows.writeTo(QUARANTINE_TABLE).option(BATCH_PROPERTY, str(self.batch_id)).append()
        checkpoint("after_quarantine_append")

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


# --- headers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeaderPlan:
    groups: dict[tuple[str, ...], list[LandingFile]]
    """The files to read, grouped by header (one Spark read per group)."""
    verdicts: dict[str, Verdict]
    """Every file: rejected with the reason, or accepted with notes (missing or extra columns)."""


def plan_files(source: Source, files: Sequence[LandingFile]) -> HeaderPlan:
    """Read headers; reject unusable files (with a reason); group the rest by header."""
    groups: dict[tuple[str, ...], list[LandingFile]] = defaultdict(list)
    verdicts = {}
    for file in files:
        verdict, header = check_header(source, file)
        verdicts[file.rel_path] = verdict
        if header is not None:
            groups[header].append(file)
    return HeaderPlan(dict(groups), verdicts)


def check_header(source: Source, file: LandingFile) -> tuple[Verdict, tuple[str, ...] | None]:
    """A file's verdict from its header (and its quoting), and the header when its rows are to be read."""
    if file.size == 0:
        return Verdict(FileStatus.INGESTED, "empty file (zero bytes): nothing to ingest"), None
    csv = source.csv
    try:
        header = read_header(file.abs_path, csv.delimiter, csv.quote, csv.encoding)
    except HeaderError as exc:
        return Verdict(FileStatus.REJECTED, str(exc)), None
    if csv.multiline:
        line = runaway_quote(file.abs_path, csv.delimiter, csv.quote, csv.encoding)
        if line is not None:
            return Verdict(
                FileStatus.REJECTED,
                f"line {line}: a quote opens and never closes; the rest of the file would be read "
                "as one field (fix the quoting and deliver the file again)",
            ), None
    _, missing, extra = transform.header_mapping(source, header)
    lacking = [c for c in source.required_columns if c in missing]
    if len(missing) == len(source.columns):
        return Verdict(FileStatus.REJECTED, no_header_message(source, header)), None
    if lacking:
        return Verdict(FileStatus.REJECTED, f"header lacks required column(s): {', '.join(lacking)}"), None
    notes = []
    if missing:
        notes.append(f"columns missing from header (null): {', '.join(missing)}")
    if extra:
        kept = ", ".join(transform.extra_columns(source, header))
        notes.append(f"extra columns kept in {source.table} as strings: {kept}" if kept else "blank header names")
    return Verdict(FileStatus.INGESTED, "; ".join(notes) or None), tuple(header)


def no_header_message(source: Source, header: Sequence[str]) -> str:
    """Why a first line is not a header, without repeating it (it may be a row of data: PII)."""
    expected = [c.name for c in source.columns]
    shown = ", ".join(expected[:8]) + (f" and {len(expected) - 8} more" if len(expected) > 8 else "")
    return (
        f"header matches none of the expected columns: its first line has {len(header)} field(s), "
        f"the registry expects {len(expected)} named {shown}; is the header missing (the first line is data), "
        f"or a wrong delimiter (expected {source.csv.delimiter!r}) or a wrong file?"
    )


# --- the batch ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrivals:
    """What discovery found for the selected sources (``find_new_files``)."""

    new: list[LandingFile]
    committed: list[tuple[str, str, str, str]]
    """Files the ledger committed that are still in the landing zone: (source, path, status, sha256)."""
    unmatched: list[str]
    unsettled: list[str]
    outside: list[str]
    other_sources: int


@dataclass(frozen=True)
class Identified:
    """Every new file's record (``identify``), and the files whose rows are to be read."""

    records: dict[str, FileRecord]
    to_write: dict[str, list[LandingFile]]
    """Per source, in landing order: files neither rejected nor duplicates."""


def ingest(
    spark: SparkSession,
    settings: Settings,
    sources: Sequence[Source] = SOURCES,
    only: str | None = None,
    settle_seconds: float | None = None,
    landing: Landing | None = None,
    progress: Progress = no_progress,
) -> IngestReport:
    """Ingest every new landing file of ``sources`` (or only the source named ``only``) from ``landing``
    (default: ``open_landing(settings)``, the folder or the ``s3://`` root of ``settings``), telling
    ``progress`` where it is.

    Raises ``IngestAborted`` (after rolling the batch back) when a file changes while it is read.
    """
    settle_seconds = settings.settle_seconds if settle_seconds is None else settle_seconds
    selected = [s for s in sources if only is None or s.name == only]
    ledger, rolled_back = prepare(spark, sources)
    report = IngestReport(rolled_back=rolled_back, sources={s.name: SourceReport() for s in selected})
    landing = open_landing(settings) if landing is None else landing
    if not landing.exists():
        report.landing_missing = landing.description
    known = ledger.known_files()
    arrivals = find_new_files(landing, sources, selected, known, settle_seconds)
    report.unmatched, report.unsettled, report.outside = arrivals.unmatched, arrivals.unsettled, arrivals.outside
    report.other_sources = arrivals.other_sources
    # Files committed by an earlier run that crashed before archiving them: finish the move.
    report.archived += archive_committed(landing, selected, arrivals.committed)
    if not arrivals.new:
        return report

    source_of = {s.name: s for s in selected}
    identified = identify(landing, arrivals.new, source_of, known.ingested_hashes, progress)
    batch = begin_batch(ledger, len(arrivals.new))
    report.batch_id = batch.batch_id
    records = write_batch(spark, batch, identified, source_of, progress)
    ensure_unchanged(ledger, landing, arrivals.new, batch.batch_id, batch_tables(sources))
    ledger.commit(batch.batch_id, records, batch.ingested_at)
    checkpoint("after_ledger_commit")
    committed = [(r.source, r.file_path, r.status, r.file_hash) for r in records]
    report.archived += archive_committed(landing, selected, committed)
    report.files = records
    report.sources = summarize(records, selected)
    return report


def prepare(spark: SparkSession, sources: Sequence[Source]) -> tuple[Ledger, list[int]]:
    """The tables exist, and a batch that started and never committed is rolled back: (ledger, batches
    rolled back)."""
    ledger = ensure_tables(spark, sources)
    return ledger, ledger.recover(batch_tables(sources))


def find_new_files(
    landing: Landing, sources: Sequence[Source], selected: Sequence[Source], known: KnownFiles, settle_seconds: float
) -> Arrivals:
    """Discover the landing zone (for all ``sources``: a file belongs to one source) and keep the files
    of ``selected`` sources: new ones, and the ones the ledger committed already."""
    found = landing.discover(sources, settle_seconds=settle_seconds)
    chosen = {s.name for s in selected}
    files = [f for f in found.files if f.source in chosen]
    return Arrivals(
        new=[f for f in files if f.key not in known.keys],
        committed=[(f.source, f.rel_path, *known.keys[f.key]) for f in files if f.key in known.keys],
        unmatched=found.unmatched,
        unsettled=found.unsettled,
        outside=found.outside,
        other_sources=sum(1 for f in found.files if f.source not in chosen),
    )


def identify(
    landing: Landing,
    files: Sequence[LandingFile],
    source_of: Mapping[str, Source],
    ingested_hashes: Mapping[tuple[str, str], str],
    progress: Progress = no_progress,
) -> Identified:
    """Identity and dedup: content seen before (``ingested_hashes``) or twice in this batch is a
    duplicate; a file whose bytes or path are unusable is rejected."""
    records: dict[str, FileRecord] = {}
    to_write: dict[str, list[LandingFile]] = defaultdict(list)
    seen = dict(ingested_hashes)
    for done, file in enumerate(files, 1):
        record = identify_file(landing, file, source_of[file.source], seen)
        progress(HASHED, done, len(files))
        records[file.rel_path] = record
        if record.status == FileStatus.INGESTED:
            seen[(file.source, record.file_hash)] = file.rel_path
            to_write[file.source].append(file)
    return Identified(records, dict(to_write))


def identify_file(
    landing: Landing, file: LandingFile, source: Source, seen: Mapping[tuple[str, str], str]
) -> FileRecord:
    """A new file's record: its hash and file date, and whether it is rejected or a duplicate."""
    scan = landing.scan(file, source.csv.encoding)
    record = FileRecord(file.source, file.rel_path, file.size, file.mtime_ms, scan.sha256, None, FileStatus.INGESTED)
    if scan.problem:
        return replace(record, status=FileStatus.REJECTED, message=scan.problem)
    try:
        file_date = derive_file_date(source.file_date, file.rel_path)
    except ValueError as exc:
        return replace(record, status=FileStatus.REJECTED, message=f"file date in the path is not a date: {exc}")
    if file_date is None and source.file_date is not None and source.file_date.required:
        message = f"cannot derive the file date from the path (expected {source.file_date.regex})"
        return replace(record, status=FileStatus.REJECTED, message=message)
    duplicate_of = seen.get((file.source, scan.sha256))
    if duplicate_of is not None:
        message = f"same content as {duplicate_of}: skipped"
        return replace(
            record, file_date=file_date, status=FileStatus.DUPLICATE, duplicate_of=duplicate_of, message=message
        )
    return replace(record, file_date=file_date)


def begin_batch(ledger: Ledger, new_files: int) -> Batch:
    """Protocol step 1: the batch's ``started`` event."""
    batch = Batch(ledger.next_batch_id(), dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    ledger.start(batch.batch_id, f"{new_files} new file(s)")
    checkpoint("after_batch_started")
    return batch


def write_batch(
    spark: SparkSession,
    batch: Batch,
    identified: Identified,
    source_of: Mapping[str, Source],
    progress: Progress = no_progress,
) -> list[FileRecord]:
    """Protocol step 2: the rows of every file to write, appended to bronze and the quarantine. Returns
    every new file's final record, in landing order: what the ledger commits."""
    writer = BatchWriter(spark, batch.batch_id, batch.ingested_at)
    records = dict(identified.records)
    total, done, rows = sum(map(len, identified.to_write.values())), 0, 0
    for source_name, files in identified.to_write.items():
        source = source_of[source_name]
        plan = plan_files(source, files)
        outcomes: dict[str, Written | Verdict] = {}
        done += len(files) - sum(map(len, plan.groups.values()))  # rejected by their header, or empty
        for header, group in plan.groups.items():
            written = write_header_group(writer, source, group, header, identified.records)
            outcomes.update(written)
            done += len(group)
            rows += sum(w.rows_read for w in written.values() if isinstance(w, Written))
            progress(INGESTED, done, total, rows)
        for file in files:
            records[file.rel_path] = settled(
                records[file.rel_path], plan.verdicts[file.rel_path], outcomes.get(file.rel_path)
            )
    return list(records.values())


def write_header_group(
    writer: BatchWriter,
    source: Source,
    group: list[LandingFile],
    header: tuple[str, ...],
    identities: Mapping[str, FileRecord],
) -> dict[str, Written | Verdict]:
    """Write a header group at once; if Spark cannot read it, retry file by file and reject the
    files that still fail (e.g. a truncated gzip), so one bad file never blocks the others."""
    try:
        return dict(writer.write_group(source, group, header, identities))
    except UnreadableFiles as exc:
        if len(group) == 1:
            return {group[0].rel_path: Verdict(FileStatus.REJECTED, f"unreadable: {exc}")}
        log.warning("group read failed (%s); retrying file by file", exc)
    outcomes: dict[str, Written | Verdict] = {}
    for file in group:
        outcomes.update(write_header_group(writer, source, [file], header, identities))
    return outcomes


def settled(record: FileRecord, verdict: Verdict, outcome: Written | Verdict | None) -> FileRecord:
    """A file's record once its header was checked (``verdict``) and its rows written (``outcome``:
    rows written, a rejection when unreadable, None when no row was read)."""
    record = replace(record, status=verdict.status, message=verdict.message)
    if isinstance(outcome, Verdict):
        return replace(record, status=outcome.status, message=outcome.message)
    if isinstance(outcome, Written):
        return replace(
            record,
            rows_read=outcome.rows_read,
            rows_quarantined=outcome.rows_quarantined,
            rows_ingested=outcome.rows_read - outcome.rows_quarantined,
            examples=list(outcome.examples),
        )
    return record


def ensure_unchanged(
    ledger: Ledger, landing: Landing, files: Sequence[LandingFile], batch_id: int, tables: Sequence[str]
) -> None:
    """Before the commit point: a file that changed while the batch read it (still being written)
    rolls the batch back and aborts (``IngestAborted``)."""
    changed = [f.rel_path for f in files if f.key != landing.restat(f)]
    if changed:
        ledger.recover(tables)
        raise IngestAborted(
            f"{', '.join(changed[:5])} changed while being ingested (still being written?); batch {batch_id} "
            "was rolled back, nothing was committed. Re-run when the upload is complete; writers should "
            "upload under a temporary name and rename, or set LAKEHOUSE_SETTLE_SECONDS"
        )


def summarize(records: Sequence[FileRecord], sources: Sequence[Source]) -> dict[str, SourceReport]:
    """Files and rows per source, from the batch's records."""
    summaries = {s.name: SourceReport() for s in sources}
    for record in records:
        summary = summaries[record.source]
        if record.status == FileStatus.INGESTED:
            summary.files_ingested += 1
            summary.rows_ingested += record.rows_ingested
            summary.rows_quarantined += record.rows_quarantined
        elif record.status == FileStatus.DUPLICATE:
            summary.files_duplicate += 1
        else:
            summary.files_rejected += 1
    return summaries


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
