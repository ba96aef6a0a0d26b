"""The conservation law, checked against the tables themselves.

For every file the ledger committed as ingested: rows in bronze from that file + rows in the
quarantine from that file = the data rows read from it (``rows_read``); a rejected or duplicate
file has no rows anywhere. Rows of a batch that started and never committed (the process died
before the commit point; the next run's ``Ledger.recover`` deletes them) are *pending*, counted
apart and not a break. Any other row whose file the ledger does not know is a break too.
``lakehouse status`` runs it and exits 1 on any break.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingestion.ledger import BATCH_COLUMN, FileStatus, Ledger
from ingestion.registry import QUARANTINE_TABLE, Source


@dataclass(frozen=True)
class Break:
    source: str
    file_path: str
    expected: int
    in_bronze: int
    in_quarantine: int

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.file_path}: ledger says {self.expected} row(s), found {self.in_bronze} in bronze "
            f"+ {self.in_quarantine} in quarantine"
        )


@dataclass(frozen=True)
class Audit:
    files_checked: int
    rows_checked: int
    breaks: list[Break]
    pending_batches: list[int] = field(default_factory=list)
    """Batches that started and never committed: their rows are rolled back by the next run."""
    pending_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks


def audit(spark, sources: Sequence[Source]) -> Audit:
    """Compare the ledger with per-file row counts of every bronze table and the quarantine."""
    ledger = Ledger(spark)
    pending = ledger.orphaned_batches()
    committed = ledger.committed_files([s.name for s in sources])
    bronze: Counter[tuple[str, str, str]] = Counter()
    pending_rows = 0
    for source in sources:
        counted, uncommitted = rows_per_file(spark, source.table, f"'{source.name}'", "true", pending)
        bronze += counted
        pending_rows += uncommitted
    names = ", ".join(f"'{s.name}'" for s in sources)
    quarantine, uncommitted = rows_per_file(spark, QUARANTINE_TABLE, "source", f"source in ({names})", pending)
    pending_rows += uncommitted

    breaks, rows = [], 0
    known = set()
    for record in committed:
        key = (record.source, record.file_path, record.file_hash)
        known.add(key)
        expected = record.rows_read if record.status == FileStatus.INGESTED else 0
        rows += expected
        if bronze[key] + quarantine[key] != expected:
            breaks.append(Break(record.source, record.file_path, expected, bronze[key], quarantine[key]))
    for key in sorted((set(bronze) | set(quarantine)) - known):
        breaks.append(Break(key[0], f"{key[1]} (not in the ledger)", 0, bronze[key], quarantine[key]))
    return Audit(len(committed), rows, breaks, pending, pending_rows)


def rows_per_file(
    spark, table: str, source: str, where: str, pending: Sequence[int]
) -> tuple[Counter[tuple[str, str, str]], int]:
    """Rows of ``table`` (bronze or the quarantine: the same lineage columns) per (source, file, hash),
    and apart, how many rows belong to ``pending`` batches (started, never committed). ``source`` is
    the SQL giving a row's source (a column, or a literal for a bronze table)."""
    batches = ", ".join(str(int(b)) for b in pending)
    is_pending = f"coalesce({BATCH_COLUMN} in ({batches}), false)" if pending else "false"
    counted: Counter[tuple[str, str, str]] = Counter()
    pending_rows = 0
    for name, path, digest, uncommitted, rows in spark.sql(
        f"select {source}, _source_file, _file_hash, {is_pending}, count(*) from {table} where {where} "
        "group by 1, 2, 3, 4"
    ).collect():
        if uncommitted:
            pending_rows += rows
        else:
            counted[(name, path, digest)] += rows
    return counted, pending_rows
