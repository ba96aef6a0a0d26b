"""``lakehouse demo``: replay the demo's arrivals file by file, a run after each day's drop, and show
what changed in every table and a few gold results at the end."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from ingestion.config import Settings
from lakehouse.demo import arrivals, demo_tables
from lakehouse.errors import FAILED, OK
from lakehouse.guards import holding_state, spark_for
from lakehouse.output import echo, format_table
from lakehouse.pipeline import Build, run_pipeline
from lakehouse.publish import publish
from lakehouse.report import write_run_report

RESULTS = [
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
"""The gold results shown when the replay is done: (title, query)."""


def demo(settings: Settings, days: int, rows: int, wait: float, verbose: bool) -> int:
    """Generate ``days`` of demo files (``rows`` per daily file) in the home's outbox, and replay them."""
    outbox = settings.home / "demo" / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    days_of_files = arrivals(outbox, days, rows)
    with holding_state(settings, "demo", wait):
        code = replay(spark_for(settings), settings, outbox, days_of_files, verbose)
    echo(f'\nDemo done. Explore: lakehouse --home {settings.home} query "select * from gold.subscriptions_by_plan"')
    return code


def replay(spark, settings: Settings, outbox: Path, days: Sequence[Sequence[Path]], verbose: bool) -> int:
    """Each day: copy its files from ``outbox`` into the landing zone, run, show the row counts before
    and after. Exit code 1 when any run failed."""
    code = OK
    tables = demo_tables(settings)
    for day, paths in enumerate(days, start=1):
        echo(f"\n=== day {day}/{len(days)}: {len(paths)} file(s) land in {settings.landing} ===")
        land(outbox, settings.landing, paths)
        before = table_counts(spark, tables)
        report, outcome = run_pipeline(spark, settings, Build(), verbose)
        write_run_report(settings.runs_dir, "demo", report, outcome, FAILED if outcome.failed else OK)
        publish(spark, settings.home, "demo")  # each day is a finished run for `lakehouse query`
        after = table_counts(spark, tables)
        changes = [(t, before[t], after[t], change(before[t], after[t])) for t in tables]
        echo("what changed")
        echo(format_table(["table", "rows before", "rows after", "change"], changes))
        if outcome.failed:
            code = FAILED
    for title, sql in RESULTS:
        df = spark.sql(sql)
        echo(f"\n{title}\n" + format_table(df.columns, [tuple(r) for r in df.collect()]))
    return code


def land(outbox: Path, landing: Path, paths: Sequence[Path]) -> None:
    """Copy files from ``outbox`` to the same place under ``landing``, saying which."""
    for path in paths:
        rel = path.relative_to(outbox)
        target = landing / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        echo(f"  + {rel}")


def table_counts(spark, tables: Sequence[str]) -> dict[str, int | None]:
    """Rows per table; None for a table that does not exist (yet)."""
    return {
        table: spark.sql(f"select count(*) from {table}").first()[0] if spark.catalog.tableExists(table) else None
        for table in tables
    }


def change(before: int | None, after: int | None) -> str:
    if before is None:
        return "created" if after is not None else ""
    delta = (after or 0) - before
    return f"{delta:+d}" if delta else "unchanged"
