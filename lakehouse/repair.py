"""Rebuild the catalog from the warehouse: the Iceberg metadata on disk is the source of truth.

The local Hive metastore (embedded Derby) only maps table names to the location of each table's
current metadata file. If it is lost or corrupt, ``lakehouse repair`` moves it aside, starts a
fresh one and registers every Iceberg table found under the warehouse (Iceberg's
``register_table`` procedure) at the head of its history (``table_head``). Data, snapshots (time
travel) and the ingestion ledger (``meta.*``, itself Iceberg tables) come back as they were; dbt
then recreates the staging views, which hold no data.

Guards (``home_problem``, ``catalog_is_empty``): a command on a home whose warehouse holds tables
but whose metastore is missing or empty refuses before it writes anything (otherwise Spark/Hive
would create an empty metastore and ``create table if not exists`` would write new, empty table
versions beside the real ones); a home whose tables point at another directory (copied or moved
with ``cp -a``: Iceberg locations are absolute) refuses too, or it would read and write the original.

Orphan files (``orphan_files``): files in a registered table's folder that no snapshot or metadata
version of the table references, left by tables dropped without ``PURGE`` and re-created at the
same location, by killed writers, or copied in by hand.
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
class Lineage:
    """One table history in a table folder: the metadata files sharing a ``table-uuid``.

    A table created again at the same location (dropped without ``PURGE``, the old dbt table
    rebuild) starts a new lineage beside the old one, with its own ``00000-*.metadata.json``.
    """

    uuid: str
    head: Path
    """The lineage's newest metadata file: highest version, then latest ``last-updated-ms``; its
    ``metadata-log`` lists the lineage's earlier files."""
    last_updated_ms: int
    last_commit_ms: int | None
    """Time of the lineage's newest snapshot (a commit of data); None if it has none."""
    location: str


@dataclass(frozen=True)
class FoundTable:
    database: str
    table: str
    metadata_file: Path
    last_updated_ms: int
    location: str = ""
    lineages: int = 1

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


def read_metadata(path: Path) -> dict | None:
    """A metadata file's JSON, or None for a partial write of a failed commit (never the current one)."""
    try:
        metadata = json.loads(path.read_text())
        int(metadata["last-updated-ms"])
        str(metadata["table-uuid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return metadata if isinstance(metadata, dict) else None


def lineages(metadata_dir: Path) -> list[Lineage]:
    """The table histories found in one table's ``metadata/`` folder."""
    heads: dict[str, tuple[tuple[int, int], Path, dict]] = {}
    for path in metadata_dir.iterdir():
        found = METADATA_FILE.match(path.name)
        metadata = read_metadata(path) if found else None
        if metadata is None:
            continue
        rank = (int(found["version"]), int(metadata["last-updated-ms"]))
        uuid = str(metadata["table-uuid"])
        if uuid not in heads or rank > heads[uuid][0]:
            heads[uuid] = (rank, path, metadata)
    result = []
    for uuid, ((_, updated), path, metadata) in heads.items():
        commits = [int(s["timestamp-ms"]) for s in metadata.get("snapshots") or [] if "timestamp-ms" in s]
        commits += [int(s["timestamp-ms"]) for s in metadata.get("snapshot-log") or [] if "timestamp-ms" in s]
        result.append(
            Lineage(uuid, path, updated, max(commits) if commits else None, str(metadata.get("location", "")))
        )
    return result


def table_head(metadata_dir: Path) -> tuple[Lineage, int] | None:
    """The true head of a table's history, and how many lineages the folder holds.

    Rule: within a lineage (one ``table-uuid``) the head is the newest version, whose
    ``metadata-log`` contains the others. Among several lineages in one folder (old dbt
    drop + create, a table dropped without ``PURGE`` and created again, a stray empty
    ``create table if not exists`` written on a lost metastore) the head is the lineage with the
    most recent snapshot commit; a lineage without any snapshot (an empty create) is chosen only
    when no lineage of the folder has one, and then the newest. So a stray empty create never
    hides the table's data, and the newest rebuild of a dropped-and-recreated table wins.
    """
    found = lineages(metadata_dir)
    if not found:
        return None
    best = max(found, key=lambda x: (x.last_commit_ms is not None, x.last_commit_ms or 0, x.last_updated_ms))
    return best, len(found)


def find_tables(warehouse: Path) -> list[FoundTable]:
    """Every Iceberg table under ``<warehouse>/<database>.db/<table>/metadata/``, at its head."""
    tables = []
    for metadata_dir in table_metadata_dirs(warehouse):
        head = table_head(metadata_dir)
        if head:
            lineage, count = head
            table_dir = metadata_dir.parent
            tables.append(
                FoundTable(
                    table_dir.parent.name.removesuffix(".db"),
                    table_dir.name,
                    lineage.head,
                    lineage.last_updated_ms,
                    lineage.location,
                    count,
                )
            )
    return tables


def table_metadata_dirs(warehouse: Path) -> list[Path]:
    """``metadata/`` folders of the warehouse's Iceberg tables (those holding a metadata file)."""
    found = []
    for db_dir in sorted(warehouse.glob("*.db")) if warehouse.is_dir() else []:
        for table_dir in sorted(p for p in db_dir.iterdir() if p.is_dir()):
            metadata_dir = table_dir / "metadata"
            if metadata_dir.is_dir() and any(METADATA_FILE.match(p.name) for p in metadata_dir.iterdir()):
                found.append(metadata_dir)
    return found


def local_path(location: str) -> Path:
    """A table location (``file:/x``, ``file:///x`` or a plain path) as a resolved local path."""
    text = re.sub(r"^file:(//)?", "", location)
    return Path(text).resolve()


def foreign_location(metadata_dir: Path) -> str | None:
    """The location a table's newest metadata file records, if it is not this table folder (the
    home was copied or moved: Iceberg writes absolute paths); else None. Reads one file."""
    names = sorted(p for p in metadata_dir.iterdir() if METADATA_FILE.match(p.name))
    for path in reversed(names):
        metadata = read_metadata(path)
        if metadata is not None:
            location = str(metadata.get("location", ""))
            return None if local_path(location) == metadata_dir.parent.resolve() else location
    return None


MOVED = (
    "the tables of {home} are registered at another place ({where}): this home was copied or moved, "
    "and Iceberg table locations are absolute, so using it would read and write the original. Use the "
    "home at its original path (see README, 'Backup, restore and moving a home')"
)


def home_problem(home: Path, dirs: list[Path], metastore: Path) -> str | None:
    """Why commands must not open this home, whose tables' ``metadata/`` folders are ``dirs``
    (``table_metadata_dirs``), checked before Spark starts; None if they may.

    - the warehouse holds tables but the metastore is missing (Spark/Hive would create an empty
      one and commands would write new, empty tables over the real ones): run ``repair``;
    - a table's metadata records another location (a copied or moved home).
    """
    if not dirs:
        return None
    for metadata_dir in dirs:
        where = foreign_location(metadata_dir)
        if where is not None:
            old = local_path(where).parent.parent
            return MOVED.format(home=home, where=old)
    if not (metastore / "service.properties").is_file():
        return lost_metastore(len(dirs))
    return None


def lost_metastore(tables: int) -> str:
    return f"the metastore is missing but the warehouse holds {tables} tables; run lakehouse repair"


def catalog_is_empty(spark, dirs: list[Path]) -> bool:
    """No table of the warehouse (its tables' ``metadata/`` folders: ``dirs``) is registered in the
    metastore (a metastore created anew by Spark/Hive over an existing warehouse)."""
    databases = {d.parent.parent.name.removesuffix(".db") for d in dirs}
    if not databases:
        return False
    existing = {row[0] for row in spark.sql("show databases").collect()}
    for database in sorted(databases & existing):
        if spark.sql(f"show tables in `{database}`").filter("not isTemporary").limit(1).count():
            return False
    return True


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


@dataclass(frozen=True)
class Orphan:
    table: str
    path: Path
    size: int


def orphan_files(spark, table: str, table_dir: Path) -> list[Orphan]:
    """Files under a registered table's folder that no snapshot or metadata version references.

    Iceberg decides what is referenced (its ``DeleteOrphanFiles`` action: every file of every
    retained snapshot, their manifests and manifest lists, the metadata files of the current
    ``metadata-log``); this function only lists, it deletes nothing. The action runs with an age
    threshold of "now" and a no-op deleter: the ``remove_orphan_files`` procedure refuses
    thresholds under 24 hours because a concurrent writer's new files look like orphans; the
    caller holds the state lock, so no writer runs.
    """
    jvm = spark._jvm
    jvm.org.apache.spark.sql.SparkSession.setActiveSession(spark._jsparkSession)  # per JVM thread: pool-safe
    iceberg_table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, table)
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    action = (
        jvm.org.apache.iceberg.spark.actions.SparkActions.get(spark._jsparkSession)
        .deleteOrphanFiles(iceberg_table)
        .olderThan(now_ms)
        .deleteWith(jvm.java.util.stream.Stream.builder())  # a Java Consumer that deletes nothing
    )
    located = action.execute().orphanFileLocations().iterator()
    root = table_dir.resolve()
    found = []
    while located.hasNext():
        path = local_path(str(located.next()))
        if not path.is_relative_to(root):  # never outside the table's own folder
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue
        found.append(Orphan(table, path, size))
    return sorted(found, key=lambda o: str(o.path))


def remove(orphans: list[Orphan]) -> int:
    """Delete the listed files (and Hadoop's ``.<name>.crc`` checksum beside each); bytes freed."""
    freed = 0
    for orphan in orphans:
        orphan.path.unlink(missing_ok=True)
        orphan.path.with_name(f".{orphan.path.name}.crc").unlink(missing_ok=True)
        freed += orphan.size
    return freed
