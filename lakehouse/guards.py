"""What every command checks before it touches a home: the state lock (one command at a time), that
a read command's home exists, and that the home's catalog can be trusted before Spark writes."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

from ingestion.config import ConfigError, Settings
from lakehouse.errors import RunFailed
from lakehouse.lock import describe, state_lock
from lakehouse.output import echo
from lakehouse.publish import publish_after

RECOVERING = ("run", "ingest", "demo")
"""Commands that roll back an interrupted ingestion batch before they start (``Ledger.recover``)."""


@contextlib.contextmanager
def holding_state(settings: Settings, command: str, wait: float) -> Iterator[None]:
    """The state directory's lock for ``command``; says so when the previous holder was killed. When the
    block finishes (no exception), a command that may change tables publishes their committed metadata
    for `lakehouse query` before it lets the lock go (``lakehouse.publish``)."""
    with state_lock(settings.lock_file, command, wait) as died:
        if died and command in RECOVERING:
            echo(
                f"note: the previous command, {describe(died)}, did not finish (killed?); "
                "anything it left half-done is rolled back or completed by this run"
            )
        elif died:
            echo(
                f"note: the previous command, {describe(died)}, did not finish (killed?); `lakehouse {command}` "
                "repairs nothing: the next `lakehouse run` (or `ingest`) rolls back or completes what it left half-done"
            )
        yield
        publish_after(settings.home, command)


def require_home(settings: Settings) -> None:
    """Read commands never create a state directory: a home that does not exist is a mistake."""
    if not settings.home.is_dir():
        raise RunFailed(
            f"{settings.home} does not exist: no lakehouse here (pass --home DIR or set LAKEHOUSE_HOME; "
            "`lakehouse run` creates it)"
        )


def spark_for(settings: Settings, guard: bool = True):
    """The Spark session for ``settings``. With ``guard`` (every command but ``repair``), a home whose
    catalog cannot be trusted is refused before anything is written: a missing or empty metastore
    over a warehouse that holds tables, or tables registered at another place (a copied home)."""
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise ConfigError("Java is required (OpenJDK 17): install it or set JAVA_HOME")
    from ingestion.spark import build_session
    from lakehouse.repair import catalog_is_empty, home_problem, lost_metastore, table_metadata_dirs

    dirs = table_metadata_dirs(settings.warehouse_dir) if guard else []  # one walk of the warehouse
    if problem := home_problem(settings.home, dirs, settings.metastore_dir):
        raise RunFailed(problem)
    spark = build_session(settings)
    if catalog_is_empty(spark, dirs):
        raise RunFailed(lost_metastore(len(dirs)))
    return spark
