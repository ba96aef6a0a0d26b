"""`lakehouse query`: one read-only statement, on DuckDB (the default, no JVM) or on Spark.

**DuckDB** (``--engine duckdb``) reads the tables the last finished command published
(``lakehouse.publish``): an in-memory database holding one view per table, ``gold.x`` over
``iceberg_scan('<its published metadata file>')``, and nothing else. It never opens the Derby metastore
and never takes the state lock, so it answers while a run writes. Read-only: the statement must be one
SELECT (WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE, PRAGMA reads) or an EXPLAIN of one
(decided by DuckDB's own parser before anything runs); file access is limited to the home's
warehouse and the configuration is locked, so no statement can read or write elsewhere, load an
extension, attach a database or change a setting.

**Spark** (``--engine spark``) is the catalog's own engine (``lakehouse.readonly``): Spark SQL,
metadata tables (``gold.x.snapshots``), the staging/intermediate views; it holds the state lock.

**As of** a moment (``--as-of``, UTC unless the text has an offset): every table as it was then, the
snapshot that was current at that millisecond (Iceberg's rule: the last snapshot committed at or before
it), on both engines. A table referenced by the query that had no snapshot yet is an error (exit 1).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ingestion.config import ConfigError, Settings
from lakehouse.errors import RunFailed
from lakehouse.publish import publication_path

ENGINES = ("duckdb", "spark")
READ_ONLY = (
    "query is read-only: {kind} is not a read statement (allowed: one SELECT/WITH/FROM, DESCRIBE, SHOW, "
    "SUMMARIZE, EXPLAIN); writes belong to ingestion and dbt models"
)


def parse_as_of(text: str | None) -> dt.datetime | None:
    """``--as-of``: an ISO-8601 date or timestamp (``2026-11-27 06:00:00``, ``2026-11-27T06:00:00Z``,
    ``...+01:00``, ``2026-11-27`` = its midnight); without an offset it is UTC. Returns an aware UTC time."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--as-of {text!r} is not a timestamp: give e.g. '2026-11-27 06:00:00' (UTC) or '2026-11-27T07:00:00+01:00'"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def epoch_millis(moment: dt.datetime) -> int:
    """Milliseconds since the epoch (Iceberg's snapshot times), exact (no float rounding)."""
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def answer(
    settings: Settings, sql: str, engine: str, as_of: dt.datetime | None, wait: float
) -> tuple[list[str], list[tuple]]:
    """``lakehouse query``: (columns, rows) of ``sql`` on ``engine``, as of ``as_of`` if given."""
    if engine == "spark":
        return spark_answer(settings, sql, as_of, wait)
    return duckdb_answer(settings, sql, as_of)


# --- Spark -----------------------------------------------------------------------------------------
def spark_answer(settings: Settings, sql: str, as_of: dt.datetime | None, wait: float):
    from lakehouse.guards import holding_state, spark_for
    from lakehouse.readonly import as_of_sql, run_read_only

    with holding_state(settings, "query", wait):
        spark = spark_for(settings)
        if as_of is not None:
            sql = as_of_sql(spark, sql, epoch_millis(as_of), describe_moment(as_of))
        return run_read_only(spark, sql)


def describe_moment(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


# --- DuckDB ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Publication:
    published_at: str
    command: str
    tables: dict[str, Path]
    """Table name -> its published metadata file."""


def read_publication(settings: Settings) -> Publication:
    path = publication_path(settings.home)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFailed(
            f"no tables published in {settings.home} yet: `lakehouse run` publishes them when it finishes "
            "(a home made before publication: run `lakehouse run` once; or use --engine spark)"
        ) from None
    tables = {name: local_file(location) for name, location in record["tables"].items()}
    warehouse = settings.warehouse_dir.resolve()
    foreign = [path for path in tables.values() if not path.resolve().is_relative_to(warehouse)]
    if foreign:  # a copied home: its publication names the original's files
        from lakehouse.repair import MOVED

        raise RunFailed(MOVED.format(home=settings.home, where=foreign[0].parents[3]))
    return Publication(record["published_at"], record["command"], tables)


def local_file(location: str) -> Path:
    """A metadata location as Iceberg writes it (``file:/...`` or a plain path) as a local path."""
    return Path(re.sub(r"^file:(//)?", "", location))


def snapshot_at(metadata: dict, millis: int) -> int | None:
    """The snapshot current at ``millis``: the last of the snapshot log committed at or before it."""
    current = None
    for entry in metadata.get("snapshot-log", []):
        if entry["timestamp-ms"] <= millis:
            current = entry["snapshot-id"]
    return current


def connect():
    """An in-memory DuckDB with the Iceberg extension loaded from its PyPI package (no download)."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    con = duckdb.connect(":memory:", config={"allow_unsigned_extensions": True})
    con.execute("set TimeZone = 'UTC'")  # timestamps with a time zone come back in UTC, as on Spark
    for package, name in ((duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")):
        path = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        con.execute(f"load '{path}'")
    return con


def lock_down(con, warehouse: Path) -> None:
    """From here on: files only under the warehouse, no extension loading, configuration locked."""
    con.execute(f"set allowed_directories = [{quoted(str(warehouse.resolve()) + '/')}]")
    con.execute("set enable_external_access = false")
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")
    con.execute("set lock_configuration = true")


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_views(con, publication: Publication, as_of: dt.datetime | None, names: list[str]) -> None:
    """A view per published table of ``names``; as of a moment, each at the snapshot current then. A
    table that had no snapshot at that moment is an error naming it."""
    for schema in sorted({name.split(".", 1)[0] for name in names}):
        con.execute(f'create schema if not exists "{schema}"')
    for name in names:
        metadata_file = publication.tables[name]
        schema, table = name.split(".", 1)
        option = ""
        if as_of is not None:
            snapshot = snapshot_at(json.loads(metadata_file.read_text()), epoch_millis(as_of))
            if snapshot is None:
                raise RunFailed(
                    f"{name} did not exist at {describe_moment(as_of)} (--as-of): its first snapshot is later"
                )
            option = f", snapshot_from_id = {snapshot}"
        con.execute(
            f'create view "{schema}"."{table}" as select * from iceberg_scan({quoted(str(metadata_file))}{option})'
        )


def existed(metadata_file: Path, as_of: dt.datetime) -> bool:
    return snapshot_at(json.loads(metadata_file.read_text()), epoch_millis(as_of)) is not None


def check_read_only(con, sql: str) -> None:
    """Exactly one statement, a read: SELECT (DuckDB parses DESCRIBE, SHOW, SUMMARIZE as SELECT) or an
    EXPLAIN whose statement is one."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise RunFailed(f"query failed: {first_line(exc)}") from None
    if len(statements) != 1:
        raise ConfigError(f"query takes one statement, got {len(statements)}")
    kind = statements[0].type.name
    if kind == "EXPLAIN":
        inner = re.sub(r"^\s*explain(\s+analy[sz]e)?", "", statements[0].query, flags=re.IGNORECASE)
        kinds = [s.type.name for s in con.extract_statements(inner)]
        kind = "SELECT" if kinds == ["SELECT"] else f"EXPLAIN {kinds[0] if kinds else ''}".strip()
    if kind != "SELECT":
        raise ConfigError(READ_ONLY.format(kind=kind))


def referenced_tables(sql: str) -> set[str]:
    import duckdb

    try:
        return {name.lower() for name in duckdb.get_table_names(sql, qualified=True)}
    except duckdb.Error:
        return set()


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def duckdb_answer(settings: Settings, sql: str, as_of: dt.datetime | None) -> tuple[list[str], list[tuple]]:
    import duckdb

    con = connect()
    try:
        check_read_only(con, sql)
        publication = read_publication(settings)
        referenced = referenced_tables(sql)
        # a view binds (reads its table's metadata) when it is created: only those the statement names,
        # all of them when it names none (SHOW TABLES) or one the parser did not see
        wanted = [name for name in publication.tables if name in referenced] if referenced else []
        everything = [name for name in publication.tables if as_of is None or existed(publication.tables[name], as_of)]
        create_views(con, publication, as_of, wanted or everything)
        lock_down(con, settings.warehouse_dir)
        try:
            try:
                result = con.execute(sql)
            except duckdb.CatalogException:
                if not wanted:
                    raise
                create_views(con, publication, as_of, [name for name in everything if name not in wanted])
                result = con.execute(sql)
            columns = [d[0] for d in result.description] if result.description else []
            rows = [tuple(plain(v) for v in row) for row in result.fetchall()]
        except duckdb.CatalogException as exc:
            unknown = sorted(name for name in referenced if "." in name and name not in publication.tables)
            if unknown:
                raise RunFailed(
                    f"query failed: no table {unknown[0]} in what `{publication.command}` published at "
                    f"{publication.published_at} (views and anything else Spark-only: --engine spark)"
                ) from None
            raise RunFailed(f"query failed: {first_line(exc)}") from None
        except duckdb.Error as exc:
            raise RunFailed(f"query failed: {first_line(exc)}") from None
    finally:
        con.close()
    return columns, rows


def plain(value):
    """DuckDB's value as Spark's path gives it: timestamps with a time zone as naive UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
