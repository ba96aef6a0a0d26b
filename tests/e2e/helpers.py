"""Helpers for end-to-end tests: read lakehouse state through `lakehouse query`, run several queries
in one separate process, or play a whole scenario (files landing, CLI commands, queries) in one
separate process: one JVM start instead of one per step."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli

STATE_SQL = """
select 'load' as kind, cast(load_date as string) as k, records_loaded as a, cumulative_records as b
from gold.subscription_loads
union all
select 'plan', plan_type, subscribers, cast(avg_monthly_charge * 100 as bigint) from gold.subscriptions_by_plan
union all
select 'bronze', _source_file, count(*), null from bronze.telecom_subscriptions group by _source_file
union all
select 'silver', null, count(*), count(distinct customer_id) from silver.subscriptions
union all
select 'quarantine', _source_file, count(*), null from bronze.quarantine group by _source_file
"""


SCENARIO = """
import contextlib, io, json, os, shutil, sys, traceback
from pathlib import Path
import click
from lakehouse.cli import cli
from ingestion.config import load_settings
from ingestion.spark import build_session

landing = Path(os.environ["LAKEHOUSE_LANDING"])
results = []
for step in json.load(sys.stdin):
    if "land" in step:
        for source, relative in step["land"]:
            target = landing / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
        results.append(None)
    elif "cli" in step:
        out, err = io.StringIO(), io.StringIO()
        sys.stdin = io.StringIO(step.get("stdin", ""))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(step["cli"], prog_name="lakehouse", standalone_mode=False)
                code = 0
            except SystemExit as exc:
                code = exc.code or 0
            except click.ClickException as exc:
                exc.show()
                code = exc.exit_code
            except Exception:
                traceback.print_exc()
                code = "exception"
        results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
    else:
        spark = build_session(load_settings())
        answer = {}
        for name, sql in step["query"].items():
            df = spark.sql(sql)
            answer[name] = [
                {c: ("" if v is None else str(v)) for c, v in zip(df.columns, row)} for row in df.collect()
            ]
        results.append(answer)
print("SCENARIO-RESULTS " + json.dumps(results), file=sys.__stdout__)
"""


def scenario(home: Path, landing: Path, steps: list[dict]) -> list:
    """Play ``steps`` in ONE separate process, in order, and return one result per step:

    - ``{"land": [[file, path relative to landing], ...]}`` copies files into the landing zone (None);
    - ``{"cli": ["run", "--select", ...]}`` runs a `lakehouse` command through the real click entry
      point (exit code, stdout, stderr), as a user's shell would, but in the same process (and JVM)
      as the previous steps: state must still go through the warehouse and ledger on disk
      (an optional ``"stdin"`` text is the command's standard input);
    - ``{"query": {name: sql}}`` reads tables (rows rendered like ``--format csv``: null -> "").
    """
    result = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        input=json.dumps(steps, default=str),
        cwd=REPO,
        env={**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(landing)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    marker = [line for line in result.stdout.splitlines() if line.startswith("SCENARIO-RESULTS ")]
    assert result.returncode == 0 and marker, result.stdout[-3000:] + result.stderr[-5000:]
    return json.loads(marker[-1].removeprefix("SCENARIO-RESULTS "))


def query_csv(home: Path, sql: str) -> list[dict[str, str]]:
    result = run_cli("query", sql, "--format", "csv", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def telecom_state(home_or_rows: Path | list[dict[str, str]]) -> dict[str, object]:
    """Gold values and per-file bronze counts, in a shape easy to compare; from a state directory
    (one `lakehouse query`) or from the rows of STATE_SQL already read by a scenario."""
    rows = query_csv(home_or_rows, STATE_SQL) if isinstance(home_or_rows, Path) else home_or_rows
    state: dict[str, object] = {
        "loads": sorted((r["k"], int(r["a"]), int(r["b"])) for r in rows if r["kind"] == "load"),
        "plans": {r["k"]: int(r["a"]) for r in rows if r["kind"] == "plan"},
        "avg_charge_cents": {r["k"]: int(r["b"]) for r in rows if r["kind"] == "plan"},
        "bronze_by_file": {r["k"]: int(r["a"]) for r in rows if r["kind"] == "bronze"},
        "quarantine_by_file": {r["k"]: int(r["a"]) for r in rows if r["kind"] == "quarantine"},
    }
    [silver] = [r for r in rows if r["kind"] == "silver"]
    state["silver_rows"], state["silver_customers"] = int(silver["a"]), int(silver["b"])
    return state


def query_many(home: Path, queries: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """Run several queries in one process; values rendered like `--format csv` (null -> "")."""
    [answer] = scenario(home, home / "landing", [{"query": queries}])
    return answer
