"""The conservation law, checked against the tables themselves.

For every file the ledger committed as ingested: rows in bronze from that file + rows in the
quarantine from that file = the data rows read from it (``rows_read``); a rejected or duplicate
file has no rows anywhere. Rows whose file the ledger does not know (a batch interrupted and not
yet rolled back) are reported too. ``lakehouse status`` runs it and exits 1 on any break.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ingestion.ledger import FILES
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

    @property
    def ok(self) -> bool:
        return not self.breaks


def audit(spark, sources: Sequence[Source]) -> Audit:
    """Compare the ledger with per-file row counts of every bronze table and the quarantine."""
    names = ", ".join(f"'{s.name}'" for s in sources)
    ledger = spark.sql(
        f"select source, file_path, file_hash, status, rows_read from {FILES} "
        f"where status in ('ingested', 'rejected') and source in ({names})"
    ).collect()
    bronze: Counter[tuple[str, str, str]] = Counter()
    for source in sources:
        for row in spark.sql(
            f"select _source_file, _file_hash, count(*) as n from {source.table} group by _source_file, _file_hash"
        ).collect():
            bronze[(source.name, row[0], row[1])] += row[2]
    quarantine: Counter[tuple[str, str, str]] = Counter()
    for row in spark.sql(
        f"select source, source_file, file_hash, count(*) from {QUARANTINE_TABLE} where source in ({names}) "
        "group by 1, 2, 3"
    ).collect():
        quarantine[(row[0], row[1], row[2])] += row[3]

    breaks, rows = [], 0
    known = set()
    for record in ledger:
        key = (record.source, record.file_path, record.file_hash)
        known.add(key)
        expected = int(record.rows_read or 0) if record.status == "ingested" else 0
        rows += expected
        if bronze[key] + quarantine[key] != expected:
            breaks.append(Break(record.source, record.file_path, expected, bronze[key], quarantine[key]))
    for key in sorted((set(bronze) | set(quarantine)) - known):
        breaks.append(Break(key[0], f"{key[1]} (not in the ledger)", 0, bronze[key], quarantine[key]))
    return Audit(len(ledger), rows, breaks)
