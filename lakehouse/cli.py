"""``lakehouse``: the command line. Commands parse their options, delegate, and render.

Exit codes: 0 success; 1 the run could not do its job (a model or an error-severity test failed,
another run holds the state directory, a query failed, ``--strict`` saw quarantined rows, a read
command found no home); 2 bad usage or configuration (a query that would write, bad ``--vars``, a
``--select`` that matches nothing). Every failure prints one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import logging
import time

import click

from ingestion.config import ConfigError, Settings, load_settings
from lakehouse.commands import LakehouseGroup, SqlCommand, handle_errors, landing_option, read_sql
from lakehouse.errors import FAILED, OK
from lakehouse.guards import holding_state, require_home, spark_for
from lakehouse.output import echo


def settings_of(ctx: click.Context, landing: str | None = None) -> Settings:
    """The command's settings (``--home``, ``--landing``, environment fallbacks), kept on the context
    for the error handler (it writes tracebacks under the home)."""
    settings = load_settings(home=ctx.obj["home"], landing=landing)
    ctx.obj["settings"] = settings
    return settings


@click.group(cls=LakehouseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home", type=click.Path(file_okay=False), help="State directory (default: $LAKEHOUSE_HOME, else ./.lakehouse)."
)
@click.option(
    "--wait", default=0.0, show_default=True, help="Seconds to wait when another run holds the state directory."
)
@click.option("-v", "--verbose", is_flag=True, help="Show dbt's own output and debug logs.")
@click.pass_context
def cli(ctx: click.Context, home: str | None, wait: float, verbose: bool) -> None:
    """Incremental lakehouse: CSV landing -> bronze (Iceberg) -> silver -> gold (dbt)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    ctx.obj = {"home": home, "wait": wait, "verbose": verbose}


strict_option = click.option(
    "--strict", is_flag=True, help="Fail (exit 1) when any row was quarantined or file rejected."
)


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
@click.option(
    "--audit",
    is_flag=True,
    help="Check everything: the audit tests (tag:audit) and every row; with nothing new, the audits alone.",
)
@strict_option
@click.option("--notify", metavar="URL", default=None, help="POST the run report (JSON) to this webhook at the end.")
@click.pass_context
@handle_errors
def run(
    ctx: click.Context,
    landing,
    select,
    full_refresh: bool,
    dbt_vars,
    unit_tests: bool,
    audit: bool,
    strict: bool,
    notify,
):
    """Ingest every new landing file, then dbt build (models + tests)."""
    from lakehouse.notify import check_url, notify_webhook
    from lakehouse.pipeline import Build, check_local_target, check_select, check_vars, quarantine_verdict, run_pipeline
    from lakehouse.progress import run_progress
    from lakehouse.report import write_run_report

    settings = settings_of(ctx, landing)
    check_local_target(settings)
    started = time.monotonic()
    build = Build(select, full_refresh, check_vars(dbt_vars), unit_tests, audit=audit)
    check_url(notify)
    with holding_state(settings, "run", ctx.obj["wait"]):
        if select:
            check_select(settings, build)
        spark = spark_for(settings)
        with run_progress() as progress:
            report, outcome = run_pipeline(spark, settings, build, ctx.obj["verbose"], progress)
        code = max(FAILED if outcome.failed else OK, quarantine_verdict(report, strict))
        path = write_run_report(settings.runs_dir, "run", report, outcome, code, time.monotonic() - started)
    echo(f"{'FAILED' if code else 'OK'} in {time.monotonic() - started:.0f}s; report: {path}")
    notify_webhook(notify, path)
    return code


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1), help="Seconds between polls.")
@click.option(
    "--settle", default=5.0, show_default=True, type=click.FloatRange(0), help="Seconds without a new file to run."
)
@landing_option
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@handle_errors
def watch(ctx: click.Context, interval: float, settle: float, landing, run_args: tuple[str, ...]) -> int:
    """Watch the landing zone; once a burst of files settles, `lakehouse run [RUN_ARGS]` (one at a time).
    Ctrl-C stops: at once when idle, after the current run otherwise."""
    from lakehouse.watch import watch as watch_landing

    settings = settings_of(ctx, landing)
    return watch_landing(settings, interval, settle, run_args, ctx.obj["wait"], ctx.obj["verbose"])


@cli.command()
@click.option("-n", "last", default=10, show_default=True, type=click.IntRange(1), help="How many runs.")
@click.pass_context
@handle_errors
def history(ctx: click.Context, last: int) -> int:
    """The last runs from their reports: duration, files, rows, quarantined, models, warnings."""
    from lakehouse.history import show_history

    return show_history(settings_of(ctx).runs_dir, last)


@cli.command()
@landing_option
@click.option("--source", default=None, help="Only this source (see `lakehouse sources`).")
@strict_option
@click.pass_context
@handle_errors
def ingest(ctx: click.Context, landing: str | None, source: str | None, strict: bool) -> int:
    """Ingest new landing files into bronze only (no dbt)."""
    from lakehouse.pipeline import check_source, quarantine_verdict, run_ingestion
    from lakehouse.report import write_run_report

    settings = settings_of(ctx, landing)
    check_source(source)
    with holding_state(settings, "ingest", ctx.obj["wait"]):
        report = run_ingestion(spark_for(settings), settings, only=source)
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
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="duckdb: the published tables, no JVM, DuckDB SQL; spark: Spark SQL on the catalog (views, metadata tables).",
)
@click.option("--as-of", "as_of", default=None, metavar="TIMESTAMP", help="Every table as it was then (UTC).")
@click.pass_context
@handle_errors
def query(ctx: click.Context, sql: str | None, sql_file, fmt: str, engine: str, as_of: str | None) -> int:
    """Run one read-only SQL statement and print the result: on DuckDB (default) over the tables the
    last finished command published, or on Spark (`--engine spark`).

    SQL is the argument, `-f FILE`, or `-` for standard input. Anything that writes is refused (exit 2).
    """
    from lakehouse.output import FORMATS
    from lakehouse.query import answer, parse_as_of

    sql = read_sql(sql, sql_file)
    moment = parse_as_of(as_of)
    settings = settings_of(ctx)
    require_home(settings)
    columns, rows = answer(settings, sql, engine, moment, ctx.obj["wait"])
    echo(FORMATS[fmt](columns, rows))
    return OK


@cli.command()
@click.pass_context
@handle_errors
def status(ctx: click.Context) -> int:
    """Per source: files, rows ingested/quarantined, rejections with reasons, last run; and a check
    that every ingested file's rows are all in bronze or quarantine (exit 1 if not)."""
    from lakehouse.status import read_status, show_status

    settings = settings_of(ctx)
    require_home(settings)
    with holding_state(settings, "status", ctx.obj["wait"]):
        state = read_status(spark_for(settings), settings.runs_dir)
    return show_status(state)


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--orphans", is_flag=True, help="Remove orphan files from table folders instead (see --dry-run).")
@click.option("--dry-run", is_flag=True, help="With --orphans: list the orphan files and their size, delete nothing.")
@click.pass_context
@handle_errors
def repair(ctx: click.Context, yes: bool, orphans: bool, dry_run: bool) -> int:
    """Rebuild a lost or corrupt metastore from the Iceberg metadata in the warehouse; with
    --orphans, remove files that no snapshot of their (registered) table references."""
    from lakehouse.rebuild import rebuild_catalog, remove_orphans

    if dry_run and not orphans:
        raise ConfigError("--dry-run goes with --orphans: `lakehouse repair --orphans --dry-run`")
    if orphans:
        return remove_orphans(settings_of(ctx), ctx.obj["wait"], dry_run, yes)
    return rebuild_catalog(settings_of(ctx), ctx.obj["wait"], yes)


@cli.command()
@click.option(
    "--older-than",
    default=None,
    metavar="DURATION",
    help="Expire snapshots older than this, e.g. 7d, 12h, 30m (default: $LAKEHOUSE_SNAPSHOT_RETENTION, else 7d).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be done per table; change nothing.")
@click.pass_context
@handle_errors
def maintain(ctx: click.Context, older_than: str | None, dry_run: bool) -> int:
    """Per table: expire snapshots older than the retention (time travel stays possible inside it),
    compact small files, rewrite manifests, remove orphan files; prints files and bytes before and after."""
    from ingestion.config import parse_duration
    from lakehouse.maintain import maintain as run_maintenance

    retention = parse_duration(older_than, "--older-than") if older_than is not None else None
    settings = settings_of(ctx)
    require_home(settings)
    retention = settings.snapshot_retention if retention is None else retention
    return run_maintenance(settings, ctx.obj["wait"], retention, dry_run)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@handle_errors
def dbt(ctx: click.Context, dbt_args: tuple[str, ...]) -> int:
    """Run any dbt command in-process with the lakehouse's Spark session, e.g. `lakehouse dbt test`.

    With `--target glue` or `--target athena` (or LAKEHOUSE_TARGET) dbt runs on AWS: no local Spark
    starts and the local state directory is not locked."""
    from lakehouse.pipeline import dbt_command

    return dbt_command(settings_of(ctx), list(dbt_args), ctx.obj["wait"])


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
    from lakehouse.pipeline import env_exports

    for line in env_exports(settings_of(ctx), target):
        echo(line)
    return OK


@cli.command()
@click.option(
    "--output", type=click.Path(file_okay=False), default=None, help="Site folder (default: $LAKEHOUSE_HOME/docs)."
)
@click.option("--serve", is_flag=True, help="Then serve the folder on http://127.0.0.1:PORT until Ctrl-C.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="With --serve: the port (default 8080; 0: any free)."
)
@click.pass_context
@handle_errors
def docs(ctx: click.Context, output: str | None, serve: bool, port: int | None) -> int:
    """Build the lineage site (dbt docs: models, sources, exposures, column types) as one self-contained
    folder to open from disk or host on S3."""
    from pathlib import Path

    from lakehouse.docs import DEFAULT_PORT, build_site, serve_site, site_summary

    if port is not None and not serve:
        raise ConfigError("--port goes with --serve: `lakehouse docs --serve --port 8081`")
    settings = settings_of(ctx)
    site = build_site(settings, Path(output) if output else None, ctx.obj["wait"], ctx.obj["verbose"], serve)
    for line in site_summary(site, settings.home):
        echo(line)
    return serve_site(site.folder, DEFAULT_PORT if port is None else port, echo) if serve else OK


@cli.command()
def sources() -> None:
    """List the registry's sources and where their files land."""
    from ingestion.registry import SOURCES
    from lakehouse.output import format_table

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
    from lakehouse.reset import reset

    return reset(settings_of(ctx, landing), ctx.obj["wait"], yes)


@cli.command()
@landing_option
@click.option("--days", type=click.IntRange(1, 365), default=3, show_default=True)
@click.option("--rows", type=click.IntRange(1, 1_000_000), default=20, show_default=True, help="Rows per daily file.")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, landing: str | None, days: int, rows: int) -> int:
    """Generate demo landing data and replay its arrival file by file, running after each drop."""
    from lakehouse.demo.replay import demo as play

    return play(settings_of(ctx, landing), days, rows, ctx.obj["wait"], ctx.obj["verbose"])


def main() -> None:
    cli(prog_name="lakehouse")


if __name__ == "__main__":
    main()
