"""``lakehouse maintain``: keep every table of the warehouse small and fast, with time travel kept inside
the retention.

Per registered Iceberg table (bronze, meta, silver, gold, reference: what ``repair`` finds in the
warehouse; views hold no files and are not tables there), under the state lock, so no run writes meanwhile:

1. **expire snapshots** older than the retention (Iceberg's ``expire_snapshots`` procedure, which also
   deletes the files only expired snapshots referenced). The cut is made per table at the snapshot that
   was current when the retention window opened (``expire_before``): that snapshot is kept, so a read
   ``timestamp as of`` any moment inside the window still finds the table's state then; ``RETAIN_LAST``
   is a floor whatever the retention. Expiring first keeps ``retain_last`` about the table's own
   history (not maintenance's commits) and makes ``--dry-run`` exact; it frees the same files, because
   the snapshot a compaction replaces is the current one, always kept;
2. **compact small files** (``rewrite_data_files``, bin-pack, ``COMPACTION`` options): a ``replace``
   snapshot with the same rows in fewer files;
3. **rewrite manifests** (``rewrite_manifests``) when the current snapshot has more than one;
4. **remove orphan files** (``lakehouse repair --orphans``'s own code: ``rebuild.clean_orphans``).

Nothing here changes a row: the ingestion ledger and dbt's incremental models read data (batch ids,
watermarks), never snapshot ids or counts, so their guarantees hold across maintenance.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingestion.config import Settings
from lakehouse.errors import OK
from lakehouse.guards import holding_state, spark_for
from lakehouse.output import echo, format_table
from lakehouse.rebuild import clean_orphans, registered_tables
from lakehouse.repair import FoundTable

RETAIN_LAST = 2
"""Whatever the retention, a table keeps its current snapshot and the one before it (``retain_last``)."""

COMPACTION = {"min-input-files": "2"}
"""``rewrite_data_files`` options: a partition's small files are rewritten as soon as there are two of
them (Iceberg's default waits for five; a daily pipeline adds one file per table and run)."""


@dataclass(frozen=True)
class Footprint:
    """A table's size: data and delete files of its current snapshot (the ``files`` metadata table),
    its snapshots (``snapshots``), and every byte in its folder (all snapshots, metadata, orphans)."""

    files: int
    bytes: int
    snapshots: int
    disk_bytes: int


@dataclass(frozen=True)
class Plan:
    """What maintenance does to one table (exactly, as Iceberg plans it)."""

    table: FoundTable
    expire_before: dt.datetime
    """Snapshots committed before this moment expire (except the last ``RETAIN_LAST``)."""
    expiring: int
    """Snapshots that expire."""
    compacting: int
    """Data files the compaction rewrites."""
    manifests: int
    """Manifests of the current snapshot (rewritten when more than one)."""


@dataclass(frozen=True)
class Done:
    plan: Plan
    compacted: int
    """Data files rewritten."""
    compacted_into: int
    """Data files written in their place."""
    manifests_rewritten: int


def maintain(settings: Settings, wait: float, retention: dt.timedelta, dry_run: bool) -> int:
    """``lakehouse maintain``: expire, compact, rewrite manifests, remove orphans; print files and bytes per
    table before and after (``dry_run``: what would be done; nothing changes)."""
    with holding_state(settings, "maintain", wait):
        cutoff = dt.datetime.now(dt.UTC) - retention  # before Spark starts: if anything, a little more is kept
        spark = spark_for(settings)
        tables, unregistered = registered_tables(spark, settings)
        echo(
            f"retention {describe(retention)}: snapshots committed before {moment(cutoff)} expire; each table keeps "
            "the one current then, so time travel to any later moment works"
        )
        with ThreadPoolExecutor(4) as pool:  # small Spark jobs and Iceberg commits per table: overlap them
            before = dict(zip(tables, pool.map(lambda t: footprint(spark, settings, t), tables), strict=True))
            plans = list(pool.map(lambda t: plan(spark, t, cutoff), tables))
            if dry_run:
                orphans = clean_orphans(spark, settings, tables, dry_run=True)
                show_plan(plans, before, orphans)
            else:
                done = list(pool.map(lambda p: run(spark, p), plans))
                orphans = clean_orphans(spark, settings, tables, dry_run=False)
                after = dict(zip(tables, pool.map(lambda t: footprint(spark, settings, t), tables), strict=True))
                show_done(done, before, after, orphans)
    for name in unregistered:
        echo(f"  {name}: its folder is not a registered table: left alone (`lakehouse repair` registers it)")
    return OK


# --- reading ---------------------------------------------------------------------------------------
def footprint(spark, settings: Settings, table: FoundTable) -> Footprint:
    files, size, snapshots = spark.sql(
        f"select * from (select count(*), coalesce(sum(file_size_in_bytes), 0) from {table.name}.files) "
        f"cross join (select count(*) from {table.name}.snapshots)"
    ).first()
    folder = table_dir(settings, table)
    disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return Footprint(int(files), int(size), int(snapshots), disk)


def table_dir(settings: Settings, table: FoundTable) -> Path:
    return settings.warehouse_dir / f"{table.database}.db" / table.table


def iceberg_table(spark, name: str):
    """The Iceberg ``Table`` object behind ``name`` (Java, through py4j)."""
    jvm = spark._jvm
    jvm.org.apache.spark.sql.SparkSession.setActiveSession(spark._jsparkSession)  # per JVM thread: pool-safe
    return jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, name)


def expire_before(table, cutoff: dt.datetime) -> dt.datetime:
    """When snapshots of ``table`` start to expire: the commit time of the snapshot that was current at
    ``cutoff`` (so it is kept, and a read as of any moment after ``cutoff`` finds it), or ``cutoff``."""
    cutoff_ms = millis(cutoff)
    current_then = None
    for entry in table.history():  # the snapshot log, oldest first
        if entry.timestampMillis() <= cutoff_ms:
            current_then = entry.snapshotId()
    snapshot = table.snapshot(current_then) if current_then is not None else None
    if snapshot is None:
        return cutoff
    return min(cutoff, from_millis(snapshot.timestampMillis()))


def plan(spark, found: FoundTable, cutoff: dt.datetime) -> Plan:
    """What maintenance would do to ``found``, as Iceberg itself plans it (nothing is committed): the
    snapshots ``expire_snapshots`` removes, the files ``rewrite_data_files`` rewrites."""
    jvm = spark._jvm
    table = iceberg_table(spark, found.name)
    before = expire_before(table, cutoff)
    expiring = table.expireSnapshots().expireOlderThan(millis(before)).retainLast(RETAIN_LAST).apply().size()
    planner = jvm.org.apache.iceberg.actions.BinPackRewriteFilePlanner(table)
    options = jvm.java.util.HashMap()
    for key, value in COMPACTION.items():
        options.put(key, value)
    planner.init(options)
    groups = planner.plan().groups().iterator()
    compacting = 0
    while groups.hasNext():
        compacting += groups.next().inputFileNum()
    groups.close()
    current = table.currentSnapshot()
    manifests = current.allManifests(table.io()).size() if current is not None else 0
    return Plan(found, before, expiring, compacting, manifests)


# --- doing -----------------------------------------------------------------------------------------
def run(spark, plan: Plan) -> Done:
    """Expire, compact, rewrite manifests (each only when there is something to do)."""
    name = plan.table.name
    if plan.expiring:
        spark.sql(
            f"call spark_catalog.system.expire_snapshots(table => '{name}', "
            f"older_than => timestamp '{plan.expire_before:%Y-%m-%d %H:%M:%S.%f}', retain_last => {RETAIN_LAST})"
        ).collect()
    compacted = written = 0
    if plan.compacting:
        options = ", ".join(f"'{key}', '{value}'" for key, value in COMPACTION.items())
        result = spark.sql(
            f"call spark_catalog.system.rewrite_data_files(table => '{name}', options => map({options}))"
        ).first()
        compacted, written = int(result["rewritten_data_files_count"]), int(result["added_data_files_count"])
    current = iceberg_table(spark, name).currentSnapshot()
    rewritten = 0
    if current is not None and current.allManifests(iceberg_table(spark, name).io()).size() > 1:
        result = spark.sql(f"call spark_catalog.system.rewrite_manifests(table => '{name}')").first()
        rewritten = int(result["rewritten_manifests_count"])
    return Done(plan, compacted, written, rewritten)


# --- rendering -------------------------------------------------------------------------------------
def show_plan(plans: list[Plan], before: dict[FoundTable, Footprint], orphans) -> None:
    rows = []
    for p in sorted(plans, key=lambda p: p.table.name):
        size = before[p.table]
        rows.append((p.table.name, size.files, size.bytes, p.compacting, p.manifests, size.snapshots, p.expiring))
    echo(format_table(["table", "files", "bytes", "would compact", "manifests", "snapshots", "would expire"], rows))
    echo(
        f"dry run: would expire {sum(p.expiring for p in plans)} snapshot(s), compact "
        f"{sum(p.compacting for p in plans)} small file(s), remove {len(orphans)} orphan file(s) "
        f"({sum(o.size for o in orphans)} bytes), then rewrite the manifests of each table left with more than "
        f"one, in {len(plans)} table(s); nothing was changed"
    )


def show_done(done: list[Done], before: dict, after: dict, orphans) -> None:
    rows = []
    for d in sorted(done, key=lambda d: d.plan.table.name):
        b, a = before[d.plan.table], after[d.plan.table]
        rows.append(
            (
                d.plan.table.name,
                f"{b.files} -> {a.files}",
                f"{b.bytes} -> {a.bytes}",
                f"{b.snapshots} -> {a.snapshots}",
                f"{b.disk_bytes} -> {a.disk_bytes}",
            )
        )
    total_before = total(before.values())
    total_after = total(after.values())
    rows.append(
        (
            "total",
            f"{total_before.files} -> {total_after.files}",
            f"{total_before.bytes} -> {total_after.bytes}",
            f"{total_before.snapshots} -> {total_after.snapshots}",
            f"{total_before.disk_bytes} -> {total_after.disk_bytes}",
        )
    )
    echo(format_table(["table", "files", "bytes", "snapshots", "bytes on disk"], rows))
    echo(
        f"maintained {len(done)} table(s): expired {sum(d.plan.expiring for d in done)} snapshot(s), compacted "
        f"{sum(d.compacted for d in done)} small file(s) into {sum(d.compacted_into for d in done)}, rewrote "
        f"{sum(d.manifests_rewritten for d in done)} manifest(s), removed {len(orphans)} orphan file(s) "
        f"({sum(o.size for o in orphans)} bytes)"
    )


def total(sizes) -> Footprint:
    sizes = list(sizes)
    return Footprint(
        sum(s.files for s in sizes),
        sum(s.bytes for s in sizes),
        sum(s.snapshots for s in sizes),
        sum(s.disk_bytes for s in sizes),
    )


def millis(value: dt.datetime) -> int:
    """Epoch milliseconds (Iceberg's commit times), exact: no float rounding."""
    return (value - EPOCH) // dt.timedelta(milliseconds=1)


def from_millis(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=value)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def moment(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def describe(retention: dt.timedelta) -> str:
    seconds = int(retention.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
