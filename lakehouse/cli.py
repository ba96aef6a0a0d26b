"""``lakehouse``: the command line.

Exit codes: 0 success; 1 the run could not do its job (a model or an error-severity test failed,
another run holds the state directory, a query failed, ``--strict`` saw quarantined rows, a read
command found no home); 2 bad usage or configuration (a query that would write, bad ``--vars``, a
``--select`` that matches nothing). Every failure prints one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ingestion.config import ConfigError, Settings, load_settings
from ingestion.errors import IngestAborted
from lakehouse.lock import LockBusy, describe, state_lock

log = logging.getLogger("lakehouse")

OK, FAILED, USAGE = 0, 1, 2


class RunFailed(Exception):
    """An expected failure with a message for the user (exit 1)."""


RECOVERING = ("run", "ingest", "demo")
"""Commands that roll back an interrupted ingestion batch before they start (``Ledger.recover``)."""


@contextlib.contextmanager
def holding_state(ctx: click.Context, settings: Settings, command: str):
    """The state directory's lock for ``command``; says so when the previous holder was killed."""
    with state_lock(settings.lock_file, command, ctx.obj["wait"]) as died:
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


def echo(text: str = "") -> None:
    click.echo(text)


def error(text: str) -> None:
    click.echo(f"error: {text}", err=True)


def friendly(exc: BaseException) -> str | None:
    """A one-line explanation for failures we know, else None."""
    text = str(exc)
    if "XSDB6" in text or "Another instance of Derby" in text:
        return (
            "the metastore is opened by another process (embedded Derby allows one). Stop the other "
            "`dbt`/`pyspark` process using this LAKEHOUSE_HOME, or use another --home."
        )
    if "XJ040" in text or "Failed to start database" in text or "Unable to instantiate" in text:
        return (
            "the metastore could not be opened (lost or corrupt?). The data is safe in the warehouse: "
            "`lakehouse repair` rebuilds the catalog from it"
        )
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        return "Spark could not start its JVM: is Java 17 installed and JAVA_HOME correct? (java -version)"
    return None


def handle_errors(command: Callable[..., int]) -> Callable[..., None]:
    """Turn expected failures into a message and an exit code; log the traceback of the rest."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Abort):
            raise
        except ConfigError as exc:
            error(str(exc))
            code = USAGE
        except (LockBusy, RunFailed, IngestAborted) as exc:
            error(str(exc))
            code = FAILED
        except KeyboardInterrupt:
            error("interrupted; a re-run resumes safely (interrupted batches are rolled back)")
            code = 130
        except Exception as exc:  # noqa: BLE001 - last line of defence: message + logged traceback
            message = (
                friendly(exc) or f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            )
            home = os.environ.get("LAKEHOUSE_HOME", ".lakehouse")
            trace = Path(home) / "logs" / "last-error.txt"
            try:
                trace.parent.mkdir(parents=True, exist_ok=True)
                trace.write_text(traceback.format_exc())
                where = f" (traceback in {trace})"
            except OSError:
                where = ""
            error(f"{message}{where}")
            code = FAILED
        sys.exit(code)

    return wrapper


class LakehouseGroup(click.Group):
    """Click's own errors (usage, bad option values, an aborted confirmation) in the same one-line
    ``error:`` style as the commands' errors, with the same exit codes (2 usage, 1 aborted)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `lakehouse`: click's help, as is
                exc.show()
                sys.exit(exc.exit_code)
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see `{exc.ctx.command_path} --help`)"
            error(f"{exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            error("aborted, nothing was changed")
            sys.exit(FAILED)


class SqlCommand(click.Command):
    """``query``'s SQL may start with a ``--`` comment: an argument that starts with ``-`` and holds
    whitespace (before any ``=``) is SQL, never an option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            sql = [a for a in args if a.startswith("-") and any(c.isspace() for c in a.split("=", 1)[0])]
            if sql:
                args = [a for a in args if a not in sql] + ["--", *sql]
        return super().parse_args(ctx, args)


def make_settings(ctx: click.Context, landing: str | None = None) -> Settings:
    settings = load_settings(home=ctx.obj["home"], landing=landing)
    os.environ["LAKEHOUSE_HOME"] = str(settings.home)
    return settings


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


landing_option = click.option(
    "--landing",
    type=click.Path(file_okay=False),
    default=None,
    help="Landing root (default: $LAKEHOUSE_LANDING, else ./data/landing).",
)


@click.group(cls=LakehouseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $LAKEHOUSE_HOME, else ./.lakehouse).",
)
@click.option(
    "--wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait when another run holds the state directory.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show dbt's own output and debug logs.")
@click.pass_context
def cli(ctx: click.Context, home: str | None, wait: float, verbose: bool) -> None:
    """Incremental lakehouse: CSV landing -> bronze (Iceberg) -> silver -> gold (dbt)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    ctx.obj = {"home": home, "wait": wait, "verbose": verbose}


def run_pipeline(
    spark,
    settings: Settings,
    select: str | None,
    full_refresh: bool,
    verbose: bool,
    dbt_vars: str | None = None,
    unit_tests: bool = False,
):
    """Ingest everything new, then ``dbt build``. Returns (ingest report, dbt outcome).

    dbt unit tests check SQL logic on fixed inputs, not data: like dbt recommends for production,
    a run leaves them out unless ``unit_tests`` (``make dbt-test`` runs them once in CI).
    """
    from ingestion.ingest import ingest
    from ingestion.ledger import Ledger
    from ingestion.registry import SOURCES
    from lakehouse.dbt_runner import run_dbt
    from lakehouse.report import dbt_summary, ingest_summary, never_arrived_warnings

    report = ingest(spark, settings)
    echo(ingest_summary(report))
    for warning in never_arrived_warnings(Ledger(spark).sources_with_files(), SOURCES):
        echo(warning)
    args = ["build"]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if dbt_vars:
        args += ["--vars", dbt_vars]
    outcome = run_dbt(spark, settings, args, quiet=not verbose)
    echo(dbt_summary(outcome))
    return report, outcome


def check_vars(dbt_vars: str | None) -> str | None:
    """``--vars`` must be a YAML mapping (dbt's own format), checked before any work."""
    if dbt_vars is None:
        return None
    import yaml

    try:
        parsed = yaml.safe_load(dbt_vars)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        example = "--vars '{as_of_date: 2021-03-01}'"
        raise ConfigError(f"--vars is not valid YAML ({problem}{where}); e.g. {example}") from None
    if not isinstance(parsed, dict):
        raise ConfigError("--vars must be a YAML mapping of names to values, e.g. --vars '{as_of_date: 2021-03-01}'")
    return dbt_vars


def check_select(settings: Settings, select: str, dbt_vars: str | None, unit_tests: bool) -> None:
    """``--select`` must match something, checked (dbt ls, no Spark) before any ingestion."""
    from lakehouse.dbt_runner import list_nodes

    args = ["--select", select]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if dbt_vars:
        args += ["--vars", dbt_vars]
    nodes, problem = list_nodes(settings, args)
    if problem:
        raise ConfigError(f"--select {select!r}: {problem}")
    if not nodes:
        raise ConfigError(
            f"--select {select!r} matches no model, seed, snapshot or test; nothing was run "
            "(list them with `lakehouse dbt ls`)"
        )


def quarantine_verdict(report, strict: bool) -> int:
    """Say loudly what did not make it to bronze; with ``--strict`` that fails the run."""
    rows, files = report.rows_quarantined, report.files_rejected
    if not (rows or files):
        return OK
    text = (
        f"{rows} row(s) quarantined and {files} file(s) rejected by this run (listed above; see "
        "`lakehouse status` and bronze.quarantine)"
    )
    if strict:
        error(f"--strict: {text}")
        return FAILED
    echo(f"WARNING: {text}; everything else was ingested")
    return OK


@cli.command()
@landing_option
@click.option("--select", "select", default=None, help="dbt selector for the build (default: everything).")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from bronze.")
@click.option(
    "--vars",
    "dbt_vars",
    default=None,
    metavar="YAML",
    help="dbt vars for the build, e.g. '{as_of_date: 2021-03-01}' (invoice features as of that date).",
)
@click.option("--unit-tests", is_flag=True, help="Also run dbt unit tests (left out of runs by default).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) when any row was quarantined or file rejected.")
@click.pass_context
@handle_errors
def run(
    ctx: click.Context,
    landing: str | None,
    select: str | None,
    full_refresh: bool,
    dbt_vars: str | None,
    unit_tests: bool,
    strict: bool,
) -> int:
    """Ingest every new landing file, then dbt build (models + tests)."""
    from lakehouse.report import write_run_report

    settings = make_settings(ctx, landing)
    started = time.monotonic()
    dbt_vars = check_vars(dbt_vars)
    with holding_state(ctx, settings, "run"):
        if select:
            check_select(settings, select, dbt_vars, unit_tests)
        spark = spark_for(settings)
        report, outcome = run_pipeline(spark, settings, select, full_refresh, ctx.obj["verbose"], dbt_vars, unit_tests)
        code = max(FAILED if outcome.failed else OK, quarantine_verdict(report, strict))
        path = write_run_report(settings.runs_dir, "run", report, outcome, code)
    echo(f"{'FAILED' if code else 'OK'} in {time.monotonic() - started:.0f}s; report: {path}")
    return code


@cli.command()
@landing_option
@click.option("--source", default=None, help="Only this source (see `lakehouse sources`).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) when any row was quarantined or file rejected.")
@click.pass_context
@handle_errors
def ingest(ctx: click.Context, landing: str | None, source: str | None, strict: bool) -> int:
    """Ingest new landing files into bronze only (no dbt)."""
    from ingestion.ingest import ingest as run_ingest
    from ingestion.registry import get_source
    from lakehouse.report import ingest_summary, write_run_report

    settings = make_settings(ctx, landing)
    if source:
        try:
            get_source(source)
        except KeyError as exc:
            raise ConfigError(exc.args[0]) from None
    with holding_state(ctx, settings, "ingest"):
        spark = spark_for(settings)
        report = run_ingest(spark, settings, only=source)
        echo(ingest_summary(report))
        code = quarantine_verdict(report, strict)
        write_run_report(settings.runs_dir, "ingest", report, None, code)
    return code


@cli.command(cls=SqlCommand)
@click.argument("sql", required=False)
@click.option(
    "-f",
    "--file",
    "sql_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read the SQL from FILE (`-f -` or a SQL argument of `-`: from standard input).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def query(ctx: click.Context, sql: str | None, sql_file, fmt: str) -> int:
    """Run one read-only SQL statement (SELECT/WITH, SHOW, DESCRIBE, EXPLAIN) and print the result.

    SQL is the argument, `-f FILE`, or `-` for standard input. Anything that writes is refused (exit 2).
    """
    from pyspark.errors import PySparkException

    from lakehouse.readonly import SqlSyntaxError, refusal, spark_plan
    from lakehouse.report import format_csv, format_json, format_table

    if sql is not None and sql_file is not None:
        raise click.UsageError("give the SQL as an argument or with -f FILE, not both")
    if sql_file is not None:
        sql = sql_file.read()
    elif sql == "-":
        sql = sys.stdin.read()
    if sql is None:
        raise click.UsageError('give the SQL: lakehouse query "select ...", -f FILE, or - (standard input)')
    if not sql.strip():
        raise ConfigError("the SQL is empty")
    settings = make_settings(ctx)
    require_home(settings)
    with holding_state(ctx, settings, "query"):
        spark = spark_for(settings)
        try:
            why = refusal(spark_plan(spark, sql))
        except SqlSyntaxError as exc:
            raise RunFailed(f"query failed: {exc}") from None
        if why:
            raise ConfigError(why)
        try:
            df = spark.sql(sql)
            columns, rows = df.columns, [tuple(r) for r in df.collect()]
        except PySparkException as exc:
            first = str(exc).strip().splitlines()[0]
            raise RunFailed(friendly(exc) or f"query failed: {first}") from None
    formatter = {"table": format_table, "csv": format_csv, "json": format_json}[fmt]
    echo(formatter(columns, rows))
    return OK


@cli.command()
@click.pass_context
@handle_errors
def status(ctx: click.Context) -> int:
    """Per source: files, rows ingested/quarantined, rejections with reasons, last run; and a check
    that every ingested file's rows are all in bronze or quarantine (exit 1 if not)."""
    from ingestion.ingest import ensure_tables
    from ingestion.registry import SOURCES
    from lakehouse.audit import audit
    from lakehouse.report import format_table, last_run

    settings = make_settings(ctx)
    require_home(settings)
    with holding_state(ctx, settings, "status"):
        spark = spark_for(settings)
        ensure_tables(spark, SOURCES)
        rows = spark.sql(
            """
            select source,
                   count(*) as files_seen,
                   count_if(status = 'ingested') as ingested,
                   count_if(status = 'duplicate') as duplicates,
                   count_if(status = 'rejected') as rejected,
                   coalesce(sum(rows_ingested), 0) as rows_ingested,
                   coalesce(sum(rows_quarantined), 0) as rows_quarantined,
                   max(committed_at) as last_batch_at
            from meta.ingest_files group by source order by source
            """
        ).collect()
        rejected = spark.sql(
            "select source, file_path, message from meta.ingest_files where status = 'rejected' order by file_path"
        ).collect()
        check = audit(spark, SOURCES)
    by_source = {r.source: tuple(r) for r in rows}
    table = [by_source.get(s.name, (s.name, 0, 0, 0, 0, 0, 0, None)) for s in SOURCES]
    columns = ["source", "files", "ingested", "duplicates", "rejected", "rows", "quarantined", "last batch (UTC)"]
    echo(format_table(columns, table))
    for row in rejected:
        echo(f"  REJECTED {row.file_path}: {row.message}")
    echo(f"last run: {last_run(settings.runs_dir) or 'none yet'}")
    if check.pending_batches:
        echo(
            f"pending: {check.pending_rows} row(s) of batch(es) {', '.join(map(str, check.pending_batches))}, "
            "which started and never committed (the command was killed?); they are not counted, and the next "
            "`lakehouse run` (or `ingest`) rolls them back and ingests their files again"
        )
    if check.ok:
        echo(
            f"conservation: OK, all {check.rows_checked} row(s) of {check.files_checked} committed file(s) are in "
            "bronze or bronze.quarantine"
        )
        return OK
    error(f"conservation broken for {len(check.breaks)} file(s):")
    for item in check.breaks:
        error(f"  {item}")
    return FAILED


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--orphans", is_flag=True, help="Remove orphan files from table folders instead (see --dry-run).")
@click.option("--dry-run", is_flag=True, help="With --orphans: list the orphan files and their size, delete nothing.")
@click.pass_context
@handle_errors
def repair(ctx: click.Context, yes: bool, orphans: bool, dry_run: bool) -> int:
    """Rebuild a lost or corrupt metastore from the Iceberg metadata in the warehouse; with
    --orphans, remove files that no snapshot of their (registered) table references."""
    from lakehouse.dbt_runner import run_dbt
    from lakehouse.repair import MOVED, find_tables, local_path, move_aside, register
    from lakehouse.report import dbt_summary, format_table

    if dry_run and not orphans:
        raise ConfigError("--dry-run goes with --orphans: `lakehouse repair --orphans --dry-run`")
    settings = make_settings(ctx)
    if orphans:
        return remove_orphans(ctx, settings, yes, dry_run)
    tables = find_tables(settings.warehouse_dir)
    if not tables:
        raise RunFailed(f"no Iceberg table under {settings.warehouse_dir}: nothing to rebuild the catalog from")
    foreign = [
        t for t in tables if local_path(t.location) != (settings.warehouse_dir / f"{t.database}.db" / t.table).resolve()
    ]
    if foreign:
        raise RunFailed(MOVED.format(home=settings.home, where=local_path(foreign[0].location).parent.parent))
    if not yes:
        click.confirm(
            f"Rebuild the catalog of {settings.home} from the {len(tables)} Iceberg tables in its warehouse? "
            "The current metastore is kept aside",
            abort=True,
        )
    with holding_state(ctx, settings, "repair"):
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
        # staging views hold no data: dbt recreates them from their definitions
        outcome = run_dbt(spark, settings, ["run", "--select", "config.materialized:view"])
    echo(dbt_summary(outcome))
    echo(f"repaired: {len(registered)} table(s) registered from {settings.warehouse_dir}")
    return FAILED if outcome.failed else OK


def remove_orphans(ctx: click.Context, settings: Settings, yes: bool, dry_run: bool) -> int:
    """``repair --orphans``: list (``dry_run``) or delete the orphan files of every registered table,
    holding the state lock (so no run can be writing new files meanwhile)."""
    from concurrent.futures import ThreadPoolExecutor

    from lakehouse.repair import find_tables, orphan_files, remove

    if not dry_run and not yes:
        click.confirm(f"Delete the files no snapshot references from the table folders of {settings.home}?", abort=True)
    with holding_state(ctx, settings, "repair"):
        spark = spark_for(settings)
        tables = find_tables(settings.warehouse_dir)
        unregistered = [t.name for t in tables if not spark.catalog.tableExists(t.name)]
        registered = [t for t in tables if t.name not in unregistered]
        with ThreadPoolExecutor(4) as pool:  # small Spark jobs per table: overlap them
            per_table = pool.map(
                lambda t: orphan_files(spark, t.name, settings.warehouse_dir / f"{t.database}.db" / t.table),
                registered,
            )
            found = [orphan for orphans in per_table for orphan in orphans]
        total = sum(o.size for o in found)
        verb = "would remove" if dry_run else "removing"
        for orphan in found:
            echo(f"  {verb} {orphan.path.relative_to(settings.warehouse_dir)} ({orphan.size} bytes)")
        if not dry_run:
            remove(found)
    for name in unregistered:
        echo(f"  {name}: its folder is not a registered table: left alone (drop it by hand, or `lakehouse repair`)")
    touched = len({o.table for o in found})
    if dry_run:
        echo(f"dry run: {len(found)} orphan file(s), {total} bytes, in {touched} table(s); nothing was deleted")
    else:
        echo(f"removed {len(found)} orphan file(s), {total} bytes, from {touched} table(s)")
    return OK


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@handle_errors
def dbt(ctx: click.Context, dbt_args: tuple[str, ...]) -> int:
    """Run any dbt command in-process with the lakehouse's Spark session, e.g. `lakehouse dbt test`.

    With `--target glue` or `--target athena` (or LAKEHOUSE_TARGET) dbt runs on AWS: no local Spark
    starts and the local state directory is not locked."""
    from lakehouse.dbt_runner import LOCAL, run_dbt, target_of, usage_problem
    from lakehouse.report import dbt_summary

    if not dbt_args:
        raise ConfigError("give a dbt command, e.g. `lakehouse dbt build --select gold`")
    settings = make_settings(ctx)
    target = target_of(settings, dbt_args)
    problem = usage_problem(settings, list(dbt_args))  # before the JVM starts: dbt's own message
    if problem:
        raise ConfigError(f"dbt: {problem}")
    if target == LOCAL:
        with holding_state(ctx, settings, "dbt"):
            spark = spark_for(settings)
            outcome = run_dbt(spark, settings, list(dbt_args), quiet=False)
    else:
        outcome = run_dbt(None, settings, list(dbt_args), quiet=False)
    if outcome.nodes:
        echo(dbt_summary(outcome))
    elif outcome.error:
        error(f"dbt: {outcome.error.splitlines()[0]}")
    return FAILED if outcome.failed else OK


@cli.command()
@click.option(
    "--target",
    type=click.Choice(["local", "glue", "athena"]),
    default=None,
    help="dbt target (default: $LAKEHOUSE_TARGET, else local).",
)
@click.pass_context
@handle_errors
def env(ctx: click.Context, target: str | None) -> int:
    """Print `export` lines so a bare `dbt` command uses the same settings: eval "$(lakehouse env)"
    (`--target glue|athena`: the AWS targets' settings, e.g. the Glue sessions' Spark conf)."""
    import shlex

    from lakehouse.dbt_runner import dbt_environment, target_of

    settings = make_settings(ctx)
    target = target or target_of(settings)
    if target == "local":
        settings.ensure_dirs()
    for key, value in dbt_environment(settings, target).items():
        echo(f"export {key}={shlex.quote(value)}")
    return OK


@cli.command()
def sources() -> None:
    """List the registry's sources and where their files land."""
    from ingestion.registry import SOURCES
    from lakehouse.report import format_table

    rows = [(s.name, s.table, s.pattern, ", ".join(s.primary_key)) for s in SOURCES]
    echo(format_table(["source", "bronze table", "landing pattern", "primary key"], rows))


@cli.command()
@landing_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@handle_errors
def reset(ctx: click.Context, landing: str | None, yes: bool) -> int:
    """Delete all state (warehouse, metastore, ledger, reports). Landing files are kept, and archived
    files are moved back into the landing zone, so the next run ingests them all again."""
    from ingestion.files import archive_root, restore_archived
    from ingestion.registry import SOURCES

    settings = make_settings(ctx, landing)
    archive = archive_root(settings.landing)
    if not settings.home.exists() and not archive.is_dir():
        echo(f"nothing to reset: {settings.home} does not exist")
        return OK
    if not yes:
        click.confirm(
            f"Delete {settings.home} (all tables and ingestion progress) and move archived files from {archive} "
            f"back to {settings.landing}?",
            abort=True,
        )
    with state_lock(settings.lock_file, "reset", ctx.obj["wait"]):
        # first the files: a reset interrupted here leaves them in landing, known to the intact
        # ledger, so a run would archive them again rather than ingest them twice
        restored = restore_archived(settings.landing, SOURCES)
        for child in settings.home.iterdir():
            if child.name != settings.lock_file.name:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    echo(f"reset {settings.home}")
    if restored.moved:
        echo(f"restored {len(restored.moved)} archived file(s) into {settings.landing}: the next run ingests them")
    for path, reason in restored.kept:
        echo(f"  kept in the archive: {path}: {reason}")
    return OK


@cli.command()
@landing_option
@click.option("--days", type=click.IntRange(1, 365), default=3, show_default=True)
@click.option("--rows", type=click.IntRange(1, 1_000_000), default=20, show_default=True, help="Rows per daily file.")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, landing: str | None, days: int, rows: int) -> int:
    """Generate demo landing data and replay its arrival file by file, running after each drop."""
    from lakehouse.demo import DEMO_TABLES, arrivals
    from lakehouse.report import format_table, write_run_report

    settings = make_settings(ctx, landing)
    outbox = settings.home / "demo" / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    days_of_files = arrivals(outbox, days, rows)
    code = OK
    with holding_state(ctx, settings, "demo"):
        spark = spark_for(settings)
        for day, paths in enumerate(days_of_files, start=1):
            echo(f"\n=== day {day}/{len(days_of_files)}: {len(paths)} file(s) land in {settings.landing} ===")
            for path in paths:
                rel = path.relative_to(outbox)
                target = settings.landing / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                echo(f"  + {rel}")
            before = table_counts(spark, DEMO_TABLES)
            report, outcome = run_pipeline(spark, settings, None, False, ctx.obj["verbose"])
            write_run_report(settings.runs_dir, "demo", report, outcome, FAILED if outcome.failed else OK)
            after = table_counts(spark, DEMO_TABLES)
            changes = [(t, before[t], after[t], _delta(before[t], after[t])) for t in DEMO_TABLES]
            echo("what changed")
            echo(format_table(["table", "rows before", "rows after", "change"], changes))
            if outcome.failed:
                code = FAILED
        for title, sql in DEMO_RESULTS:
            df = spark.sql(sql)
            echo(f"\n{title}\n" + format_table(df.columns, [tuple(r) for r in df.collect()]))
    echo(f'\nDemo done. Explore: lakehouse --home {settings.home} query "select * from gold.subscriptions_by_plan"')
    return code


DEMO_RESULTS = [
    ("gold.subscription_loads", "select * from gold.subscription_loads order by load_date"),
    ("gold.subscriptions_by_plan", "select * from gold.subscriptions_by_plan order by plan_type"),
    (
        "gold.flight_delay_summary (busiest carriers of the last day)",
        "select * from gold.flight_delay_summary where flight_date = (select max(flight_date) "
        "from gold.flight_delay_summary) order by flights desc limit 5",
    ),
    (
        "gold.account_features (most invoiced accounts)",
        "select * from gold.account_features order by feature_total_invoices desc, account_id limit 5",
    ),
]


def table_counts(spark, tables: list[str]) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    for table in tables:
        counts[table] = (
            spark.sql(f"select count(*) from {table}").first()[0] if spark.catalog.tableExists(table) else None
        )
    return counts


def _delta(before: int | None, after: int | None) -> str:
    if before is None:
        return "created" if after is not None else ""
    change = (after or 0) - before
    return f"{change:+d}" if change else "unchanged"


def main() -> None:
    cli(prog_name="lakehouse")


if __name__ == "__main__":
    main()
