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
    names = ", ".join(f"'{s.name}'" for s in sources)
    ledger = Ledger(spark)
    pending = ledger.orphaned_batches()
    batches = ", ".join(str(int(b)) for b in pending)

    def is_pending(column: str) -> str:
        return f"coalesce({column} in ({batches}), false)" if pending else "false"

    committed = ledger.committed_files([s.name for s in sources])
    bronze: Counter[tuple[str, str, str]] = Counter()
    pending_rows = 0
    for source in sources:
        for row in spark.sql(
            f"select _source_file, _file_hash, {is_pending(BATCH_COLUMN)}, count(*) as n "
            f"from {source.table} group by 1, 2, 3"
        ).collect():
            if row[2]:
                pending_rows += row[3]
            else:
                bronze[(source.name, row[0], row[1])] += row[3]
    quarantine: Counter[tuple[str, str, str]] = Counter()
    for row in spark.sql(
        f"select source, _source_file, _file_hash, {is_pending(BATCH_COLUMN)}, count(*) "
        f"from {QUARANTINE_TABLE} where source in ({names}) group by 1, 2, 3, 4"
    ).collect():
        if row[3]:
            pending_rows += row[4]
        else:
            quarantine[(row[0], row[1], row[2])] += row[4]

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
