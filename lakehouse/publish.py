"""What `lakehouse query` reads without a JVM: each table's committed Iceberg metadata file, published by
the command that committed it.

**The publication** is one small JSON file, ``$LAKEHOUSE_HOME/published.json``: when it was written, by
which command, and per table (``gold.x``, ``silver.x``, ``bronze.x``, ``meta.x``, ``reference.x``...) the
location of its current ``*.metadata.json``. It is written at the end of every command that holds the
state lock and may change tables (``run``, ``ingest``, ``dbt``, ``repair``, ``demo``, and any new one;
not ``query`` or ``status``) by :func:`publish`, called from ``lakehouse.guards.holding_state``, while
the command still holds the lock: so it is written by one process at a time, and no table moves while
it is read from the catalog. It is replaced atomically (a temporary file, then ``rename``), so a reader
sees the previous publication or the new one, never a mix.

**Consistency.** Iceberg metadata files are immutable: a later commit writes a new one. So a query reads
the set of table versions that existed together at the end of the last command that finished, while
another run writes new versions beside them: a run in progress never shows half its tables.

**A failed command.** A command that finished, even with exit 1 because a model or an error-severity
test failed, publishes: its tables are each committed (dbt leaves a failed model's table as it was) and
are what the next run starts from and what ``--engine spark`` shows. A command that stopped on an error,
Ctrl-C or ``kill -9`` publishes nothing: it may have left the rows of an uncommitted ingestion batch in
bronze (rolled back by the next run), so the previous publication stays. ``reset`` deletes it with the
rest of the home.

**Limits.** A published metadata file stays readable as long as the table keeps it: tables keep their
last 100 metadata files (``write.metadata.delete-after-commit``), and snapshot expiry removes the data
of expired snapshots. Views (``staging``, ``intermediate``) are Spark views: they are not published.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

PUBLICATION = "published.json"
NOT_PUBLISHING = ("query", "status")
"""Commands that hold the state lock but change no table: they publish nothing."""


def publication_path(home: Path) -> Path:
    return home / PUBLICATION


def current_metadata(spark) -> dict[str, str]:
    """``{"schema.table": metadata file location}`` of every Iceberg table of the session's catalog: the
    ``metadata_location`` pointer Iceberg's Hive catalog commits (compare-and-swap) on each table, read
    from the session's metastore client (no query runs; views and non-Iceberg tables left out)."""
    catalog = spark._jsparkSession.sharedState().externalCatalog()
    tables: dict[str, str] = {}
    databases = catalog.listDatabases()
    for i in range(databases.size()):
        database = databases.apply(i)
        names = catalog.listTables(database)
        for j in range(names.size()):
            table = catalog.getTable(database, names.apply(j))
            location = table.properties().get("metadata_location")
            if table.tableType().name() != "VIEW" and location.isDefined():
                tables[f"{database}.{names.apply(j)}"] = str(location.get())
    return dict(sorted(tables.items()))


def write_publication(home: Path, command: str, tables: dict[str, str]) -> Path:
    """Replace the publication atomically (write a temporary file beside it, then rename)."""
    path = publication_path(home)
    record = {
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "tables": tables,
    }
    handle, temporary = tempfile.mkstemp(prefix=".published-", suffix=".tmp", dir=home)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(record, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def publish(spark, home: Path, command: str) -> Path:
    """Publish every table's committed metadata for ``lakehouse query`` (call it holding the state lock)."""
    return write_publication(home, command, current_metadata(spark))


def publish_after(home: Path, command: str) -> Path | None:
    """The end of a command that finished holding the state lock: publish from its Spark session, if it
    started one (a command that never started Spark committed nothing)."""
    if command in NOT_PUBLISHING or "pyspark.sql" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None or spark.sparkContext._jsc is None:
        return None
    return publish(spark, home, command)
