"""`lakehouse query` on DuckDB (default, no JVM, the published tables) and on Spark: the same answers,
a run in progress never visible, ``--as-of`` alike on both engines, clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import os
import time
from pathlib import Path

import pytest

from ingestion.config import load_settings
from lakehouse.output import format_json
from lakehouse.query import answer
from tests.conftest import run_cli
from tests.e2e.helpers import built_tables, scenario
from tests.e2e.test_cli_contract import error_line

HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n"
TELECOM_ONLY = ["run", "--select", "+path:models/gold/telecom telecom_plan_types"]
LOADS = "select cast(load_date as varchar) as d, records_loaded as n from gold.subscription_loads order by d"
BRONZE = "select count(*) as n from bronze.telecom_subscriptions"


def telecom_file(landing: Path, day: int, first_id: int, rows: int) -> None:
    path = landing / "telecom" / f"customer_subscription_2023_08_{day:02d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{first_id + i},A,B,{'Prepaid' if i % 2 else 'Postpaid'},{20 + i}.50,2023-08-01\n" for i in range(rows)]
    path.write_text(HEADER + "".join(lines))


def rows_of(result) -> list[dict[str, str]]:
    assert result.returncode == 0, result.stdout + result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def duck(home: Path, sql: str, *options: str):
    return run_cli("query", sql, "--format", "csv", *options, home=home)


def test_unpublished_home_bad_as_of_and_writes_are_refused_without_a_jvm(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    nothing = duck(home, "select 1 as x")
    assert nothing.returncode == 1
    assert error_line(nothing).startswith(f"error: no tables published in {home} yet: `lakehouse run` publishes them")
    bad = duck(home, "select 1", "--as-of", "yesterday")
    assert bad.returncode == 2 and error_line(bad).startswith("error: --as-of 'yesterday' is not a timestamp")
    for sql, kind in [
        ("copy (select 1) to '/tmp/x.csv'", "COPY"),
        ("create table gold.x as select 1", "CREATE"),
        ("attach 'x.db'", "ATTACH"),
        ("set threads = 1", "SET"),
        ("explain analyze insert into t values (1)", "EXPLAIN INSERT"),
    ]:
        refused = duck(home, sql)
        assert refused.returncode == 2, (sql, refused.stderr)
        assert error_line(refused).startswith(f"error: query is read-only: {kind} is not a read statement"), sql
    two = duck(home, "select 1; select 2")
    assert two.returncode == 2 and error_line(two) == "error: query takes one statement, got 2"


def test_a_run_in_progress_is_invisible_and_as_of_reads_the_past_on_both_engines(tmp_path):
    home, landing = tmp_path / "home", tmp_path / "landing"
    telecom_file(landing, 21, 1, 4)
    [first] = scenario(home, landing, [{"cli": TELECOM_ONLY}])
    assert first["code"] == 0, first["stdout"] + first["stderr"]
    published = json.loads((home / "published.json").read_text())
    assert published["command"] == "run" and "gold.subscription_loads" in published["tables"]
    assert not any(name.startswith("staging.") for name in published["tables"])  # Spark views stay in Spark
    time.sleep(1.0)
    after_first = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    time.sleep(1.0)

    # a second run, stopped (kill -9) right after its ingestion commit: bronze holds the new batch, gold not yet
    telecom_file(landing, 22, 101, 3)
    killed = run_cli(*TELECOM_ONLY, home=home, landing=landing, env={"LAKEHOUSE_KILL_AT": "after_ledger_commit"})
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert rows_of(duck(home, BRONZE)) == [{"n": "4"}]  # the previous run's state, bronze and gold together
    assert rows_of(duck(home, LOADS)) == [{"d": "2023-08-21", "n": "4"}]

    spark_loads = LOADS.replace("varchar", "string")
    spark, spark_then, spark_before, spark_bronze = scenario(
        home,
        landing,
        [
            {"cli": TELECOM_ONLY},
            {"cli": ["query", spark_loads, "--engine", "spark", "--format", "csv", "--as-of", after_first]},
            {"cli": ["query", BRONZE, "--engine", "spark", "--as-of", "2001-01-01"]},
            {"cli": ["query", BRONZE, "--engine", "spark", "--format", "csv"]},
        ],
    )
    assert spark["code"] == 0, spark["stdout"] + spark["stderr"]
    now = [{"d": "2023-08-21", "n": "4"}, {"d": "2023-08-22", "n": "3"}]
    assert rows_of(duck(home, LOADS)) == now
    assert rows_of(duck(home, BRONZE)) == [{"n": "7"}]
    assert spark_bronze["code"] == 0 and list(csv.DictReader(io.StringIO(spark_bronze["stdout"]))) == [{"n": "7"}]

    then = [{"d": "2023-08-21", "n": "4"}]
    assert spark_then["code"] == 0, spark_then["stderr"]
    assert list(csv.DictReader(io.StringIO(spark_then["stdout"]))) == then
    assert rows_of(duck(home, LOADS, "--as-of", after_first)) == then
    naive_utc = after_first.removesuffix("+00:00").replace("T", " ")  # no offset: UTC
    assert rows_of(duck(home, BRONZE, "--as-of", naive_utc)) == [{"n": "4"}]

    message = "error: bronze.telecom_subscriptions did not exist at 2001-01-01 00:00:00.000 UTC (--as-of)"
    assert spark_before["code"] == 1 and spark_before["stderr"].strip().startswith(message), spark_before["stderr"]
    before = duck(home, BRONZE, "--as-of", "2001-01-01")
    assert before.returncode == 1 and error_line(before).startswith(message)
    unknown = duck(home, "select * from gold.no_such_table")
    assert unknown.returncode == 1
    assert error_line(unknown).startswith("error: query failed: no table gold.no_such_table in what `run` published")
    view = duck(home, "select * from staging.stg_telecom__subscriptions")  # a Spark view: Spark only
    assert view.returncode == 1 and "(views and anything else Spark-only: --engine spark)" in error_line(view)
    listed = {(row["schema"], row["name"]) for row in rows_of(duck(home, "show all tables"))}
    assert {("gold", "subscription_loads"), ("bronze", "telecom_subscriptions"), ("meta", "ingest_files")} <= listed


# --- every gold table, value for value: on the home `make dbt-test` builds with all five domains ----
ENGINES_HOME = "LAKEHOUSE_ENGINES_HOME"


@pytest.mark.skipif(not os.environ.get(ENGINES_HOME), reason=f"{ENGINES_HOME} unset (`make dbt-test` sets it)")
def test_every_gold_table_reads_the_same_on_duckdb_and_spark():
    """json keeps the types apart: decimals as strings with their scale, dates vs timestamps (ISO, UTC),
    integers vs doubles, booleans, nulls."""
    home = Path(os.environ[ENGINES_HOME])
    gold = sorted(name for name in built_tables() if name.startswith("gold."))
    published = json.loads((home / "published.json").read_text())["tables"]
    assert gold == sorted(n for n in published if n.startswith("gold.")), "published gold != dbt's gold"
    on_spark = scenario(
        home,
        home / "landing",
        [{"cli": ["query", f"select * from {name}", "--engine", "spark", "--format", "json"]} for name in gold],
    )
    settings = load_settings(home=home, env={})
    empty = []
    for name, spark in zip(gold, on_spark, strict=True):
        assert spark["code"] == 0, spark["stderr"]
        columns, rows = answer(settings, f"select * from {name}", "duckdb", None, 0)  # the CLI's own path
        spark_rows, duckdb_rows = json.loads(spark["stdout"]), json.loads(format_json(columns, rows))
        if spark_rows:
            assert columns == list(spark_rows[0]), name  # same columns, same order
        key = functools.partial(json.dumps, sort_keys=True)
        assert sorted(duckdb_rows, key=key) == sorted(spark_rows, key=key), name
        empty += [] if rows else [name]
    assert len(empty) <= len(gold) // 4, f"too many empty gold tables to compare values: {empty}"
