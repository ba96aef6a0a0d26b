"""``lakehouse status``: per source, files and rows from the ledger, rejected files with their
reasons, the last run, and the conservation check (``lakehouse.audit``)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

from ingestion.ingest import ensure_tables
from ingestion.ledger import Rejection, SourceFiles
from ingestion.registry import SOURCES
from lakehouse.audit import Audit, audit
from lakehouse.errors import FAILED, OK
from lakehouse.output import echo, error, format_table
from lakehouse.report import last_run

COLUMNS = ["source", "files", "ingested", "duplicates", "rejected", "rows", "quarantined", "last batch (UTC)"]


@dataclass(frozen=True)
class Status:
    sources: list[SourceFiles]
    """One line per registry source, in registry order (zeros for a source without files)."""
    rejections: list[Rejection]
    check: Audit
    last_run: str | None


def read_status(spark, runs_dir) -> Status:
    """The state of the lakehouse, read from the ledger and the tables."""
    ledger = ensure_tables(spark, SOURCES)
    per_source = ledger.per_source()
    rejections = ledger.rejections()
    check = audit(spark, SOURCES)
    lines = [per_source.get(s.name, SourceFiles(s.name)) for s in SOURCES]
    return Status(lines, rejections, check, last_run(runs_dir))


def show_status(status: Status) -> int:
    """Print ``status``; exit code 1 when conservation is broken."""
    echo(format_table(COLUMNS, [astuple(line) for line in status.sources]))
    for rejection in status.rejections:
        echo(f"  REJECTED {rejection.file_path}: {rejection.message}")
    echo(f"last run: {status.last_run or 'none yet'}")
    check = status.check
    if check.pending_batches:
        echo(
            f"pending: {check.pending_rows} row(s) of batch(es) {', '.join(map(str, check.pending_batches))}, "
            "which started and never committed (the command was killed?); they are not counted, and the next "
            "`lakehouse run` (or `ingest`) rolls them back and ingests their files again"
        )
    if check.ok:
        echo(
            f"conservation: OK, all {check.rows_checked} row(s) of {check.files_checked} committed file(s) are in "
            "bronze or bronze.quarantine"
        )
        return OK
    error(f"conservation broken for {len(check.breaks)} file(s):")
    for item in check.breaks:
        error(f"  {item}")
    return FAILED
