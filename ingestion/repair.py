"""Rebuild the catalog from the warehouse: the Iceberg metadata on disk is the source of truth.

The local Hive metastore (embedded Derby) only maps table names to the location of each table's
current metadata file. If it is lost or corrupt, ``lakehouse repair`` moves it aside, starts a
fresh one and registers every Iceberg table found under the warehouse (Iceberg's
``register_table`` procedure) at its newest metadata file. Data, snapshots (time travel) and the
ingestion ledger (``meta.*``, itself Iceberg tables) come back as they were; dbt then recreates
the staging views, which hold no data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

METADATA_FILE = re.compile(r"^(?P<version>\d+)-[0-9a-f-]+\.metadata\.json$")


@dataclass(frozen=True)
class FoundTable:
    database: str
    table: str
    metadata_file: Path
    last_updated_ms: int

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


def newest_metadata(metadata_dir: Path) -> tuple[Path, int] | None:
    """The table's newest metadata file and its ``last-updated-ms``.

    Ordered by the commit time written inside each file, then by version: a table dropped and
    created again at the same location (a dbt ``--full-refresh``) starts again at version 0.
    """
    best: tuple[int, int, Path] | None = None
    for path in metadata_dir.iterdir():
        found = METADATA_FILE.match(path.name)
        if not found:
            continue
        try:
            updated = int(json.loads(path.read_text())["last-updated-ms"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a partial write of a failed commit: never the current metadata
        candidate = (updated, int(found["version"]), path)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return (best[2], best[0]) if best else None


def find_tables(warehouse: Path) -> list[FoundTable]:
    """Every Iceberg table under ``<warehouse>/<database>.db/<table>/metadata/``."""
    tables = []
    for db_dir in sorted(warehouse.glob("*.db")):
        for table_dir in sorted(p for p in db_dir.iterdir() if p.is_dir()):
            metadata_dir = table_dir / "metadata"
            if not metadata_dir.is_dir():
                continue
            newest = newest_metadata(metadata_dir)
            if newest:
                tables.append(FoundTable(db_dir.name.removesuffix(".db"), table_dir.name, *newest))
    return tables


def move_aside(metastore_dir: Path) -> Path | None:
    """Keep the old metastore for inspection, out of the way: ``metastore_db.broken-<UTC time>``."""
    if not metastore_dir.exists():
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = metastore_dir.with_name(f"{metastore_dir.name}.broken-{stamp}")
    shutil.move(str(metastore_dir), str(target))
    return target


def register(spark, tables: list[FoundTable]) -> list[tuple[str, str, int | None]]:
    """Register each table (databases created as needed); (name, outcome, snapshots) per table."""
    outcome = []
    for found in tables:
        spark.sql(f"create database if not exists `{found.database}`")
        if spark.catalog.tableExists(found.name):
            outcome.append((found.name, "already registered", None))
            continue
        uri = found.metadata_file.resolve().as_uri()
        spark.sql(
            f"call spark_catalog.system.register_table(table => '{found.name}', metadata_file => '{uri}')"
        ).collect()
        snapshots = spark.sql(f"select count(*) from {found.name}.snapshots").first()[0]
        outcome.append((found.name, "registered", snapshots))
    return outcome
