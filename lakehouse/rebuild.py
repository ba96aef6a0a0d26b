"""``lakehouse repair``: rebuild the catalog from the warehouse, or remove orphan files; the
mechanics (finding tables, registering them, listing orphans) are in ``lakehouse.repair``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ingestion.config import Settings
from lakehouse.dbt_runner import list_relations, run_dbt
from lakehouse.errors import FAILED, OK, RunFailed
from lakehouse.guards import holding_state, spark_for
from lakehouse.output import confirm, echo, format_table
from lakehouse.repair import (
    MOVED,
    FoundTable,
    Orphan,
    find_tables,
    local_path,
    move_aside,
    orphan_files,
    register,
    remove,
)
from lakehouse.report import dbt_summary
from lakehouse.selection import forget_record


def tables_to_register(settings: Settings) -> list[FoundTable]:
    """The warehouse's Iceberg tables, checked before anything changes: there are some, and they
    were written at this home (not copied from another)."""
    tables = find_tables(settings.warehouse_dir)
    if not tables:
        raise RunFailed(f"no Iceberg table under {settings.warehouse_dir}: nothing to rebuild the catalog from")
    foreign = [
        t for t in tables if local_path(t.location) != (settings.warehouse_dir / f"{t.database}.db" / t.table).resolve()
    ]
    if foreign:
        raise RunFailed(MOVED.format(home=settings.home, where=local_path(foreign[0].location).parent.parent))
    return tables


def rebuild_catalog(settings: Settings, wait: float, yes: bool) -> int:
    """Ask (unless ``yes``), move the metastore aside, register the warehouse's tables in a new one,
    let dbt recreate the views."""
    tables = tables_to_register(settings)
    if not yes:
        confirm(
            f"Rebuild the catalog of {settings.home} from the {len(tables)} Iceberg tables in its warehouse? "
            "The current metastore is kept aside"
        )
    with holding_state(settings, "repair", wait):
        forget_record(settings)  # the next run builds everything
        moved = move_aside(settings.metastore_dir)
        if moved:
            echo(f"the old metastore is kept in {moved}")
        spark = spark_for(settings, guard=False)
        registered = register(spark, tables)
        echo(format_table(["table", "catalog", "snapshots"], registered))
        newly = {name for name, outcome, _ in registered if outcome == "registered"}
        for table in tables:
            if table.lineages > 1 and table.name in newly:
                echo(
                    f"note: {table.name}: {table.lineages} table histories in its folder (dropped and created "
                    f"again); registered the one with the latest commit, {table.metadata_file.name}. "
                    "`lakehouse repair --orphans` removes the others' files"
                )
        # views hold no data: dbt recreates them from their definitions, except those over a table this
        # home never built (e.g. the intermediate views of a domain that never ran)
        never_built = [f"{r.node}+" for r in list_relations(settings) if not spark.catalog.tableExists(r.name)]
        views = ["run", "--select", "config.materialized:view"]
        outcome = run_dbt(spark, settings, [*views, "--exclude", *never_built] if never_built else views)
    echo(dbt_summary(outcome))
    echo(f"repaired: {len(registered)} table(s) registered from {settings.warehouse_dir}")
    return FAILED if outcome.failed else OK


def remove_orphans(settings: Settings, wait: float, dry_run: bool, yes: bool) -> int:
    """List (``dry_run``) or delete (asking, unless ``yes``) the orphan files of every registered table,
    holding the state lock (so no run can be writing new files meanwhile)."""
    if not dry_run and not yes:
        confirm(f"Delete the files no snapshot references from the table folders of {settings.home}?")
    with holding_state(settings, "repair", wait):
        spark = spark_for(settings)
        registered, unregistered = registered_tables(spark, settings)
        found = clean_orphans(spark, settings, registered, dry_run)
    for name in unregistered:
        echo(f"  {name}: its folder is not a registered table: left alone (drop it by hand, or `lakehouse repair`)")
    total = sum(o.size for o in found)
    touched = len({o.table for o in found})
    if dry_run:
        echo(f"dry run: {len(found)} orphan file(s), {total} bytes, in {touched} table(s); nothing was deleted")
    else:
        echo(f"removed {len(found)} orphan file(s), {total} bytes, from {touched} table(s)")
    return OK


def registered_tables(spark, settings: Settings) -> tuple[list[FoundTable], list[str]]:
    """The warehouse's Iceberg tables that the catalog knows, and the names of the table folders it does
    not (views hold no folder: they are never listed)."""
    tables = find_tables(settings.warehouse_dir)
    unregistered = [t.name for t in tables if not spark.catalog.tableExists(t.name)]
    return [t for t in tables if t.name not in unregistered], unregistered


def clean_orphans(spark, settings: Settings, tables: list[FoundTable], dry_run: bool) -> list[Orphan]:
    """The orphan files of ``tables`` (``orphan_files``), one line each; deleted unless ``dry_run``.
    The caller holds the state lock."""
    with ThreadPoolExecutor(4) as pool:  # small Spark jobs per table: overlap them
        per_table = pool.map(
            lambda t: orphan_files(spark, t.name, settings.warehouse_dir / f"{t.database}.db" / t.table), tables
        )
        found = [orphan for orphans in per_table for orphan in orphans]
    verb = "would remove" if dry_run else "removing"
    for orphan in found:
        echo(f"  {verb} {orphan.path.relative_to(settings.warehouse_dir)} ({orphan.size} bytes)")
    if not dry_run:
        remove(found)
    return found
