"""Helpers for end-to-end tests: read lakehouse state through `lakehouse query`, run several queries
in one separate process, or play a whole scenario (files landing, CLI commands, queries) in one
separate process: one JVM start instead of one per step."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import REPO, run_cli
from tests.e2e.scenario_runner import MARKER

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


class Results(list):
    """One result per step, in order; a step given a ``"name"`` is also found by it: ``results["rerun"]``."""

    def __init__(self, steps: list[dict], results: list) -> None:
        super().__init__(results)
        self.names = {step["name"]: index for index, step in enumerate(steps) if "name" in step}

    def __getitem__(self, key):
        return super().__getitem__(self.names[key] if isinstance(key, str) else key)


def scenario(home: Path, landing: Path, steps: list[dict]) -> Results:
    """Play ``steps`` in ONE separate process (``tests/e2e/scenario_runner.py``), in order, and return
    one result per step (by position, or by the step's optional ``"name"``):

    - ``{"land": [[file, path relative to landing], ...]}`` copies files into the landing zone (None);
    - ``{"cli": ["run", "--select", ...]}`` runs a `lakehouse` command through the real click entry
      point (exit code, stdout, stderr), as a user's shell would, but in the same process (and JVM)
      as the previous steps: state must still go through the warehouse and ledger on disk
      (an optional ``"stdin"`` text is the command's standard input);
    - ``{"query": {name: sql}}`` reads tables (rows rendered like ``--format csv``: null -> "");
    - ``{"mark": NAME, "sleep": SECONDS}`` notes the moment (then pauses): later steps' ``{{mark:NAME}}``
      becomes that UTC moment, ``{{seconds_since:NAME}}`` the seconds since, e.g. ``30s`` (None).
    - ``{"call": name, "args": [...]}`` calls the function ``name`` of this module (its return value).
    """
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.scenario_runner"],
        input=json.dumps([{k: v for k, v in step.items() if k != "name"} for step in steps], default=str),
        cwd=REPO,
        env={**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(landing)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    marker = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    assert result.returncode == 0 and marker, result.stdout[-3000:] + result.stderr[-5000:]
    return Results(steps, json.loads(marker[-1].removeprefix(MARKER)))


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


# --- the table lists, derived: bronze from the registry, the rest from the dbt project ------------
@functools.cache
def _dbt_settings():
    """Settings of a scratch home for ``dbt ls`` (it parses the project; no Spark, no data)."""
    from ingestion.config import load_settings

    home = Path(tempfile.mkdtemp(prefix="lakehouse-dbt-ls-"))
    return load_settings(home=home, landing=home / "landing", env={})


@functools.cache
def built_tables(*select: str) -> tuple[str, ...]:
    """The tables (models that are not views, seeds) that ``lakehouse run <select>`` builds."""
    from lakehouse.dbt_runner import list_relations

    tables = tuple(r.name for r in list_relations(_dbt_settings(), select))
    assert tables, f"`dbt ls` names no table for {select}: a test would compare nothing"
    return tables


@functools.cache
def build_size(*select: str) -> int:
    """How many nodes ``lakehouse run <select>`` builds: models, seeds, snapshots and data tests (a run
    leaves unit tests out)."""
    from lakehouse.dbt_runner import list_nodes

    nodes, problem = list_nodes(_dbt_settings(), [*select, "--resource-type", "model", "seed", "snapshot", "test"])
    assert problem is None and nodes, problem
    return len(nodes)


def bronze_tables(domains: Iterable[str]) -> list[str]:
    """The bronze tables of the registry's sources of ``domains``."""
    from ingestion.registry import SOURCES

    wanted = set(domains)
    return [s.table for s in SOURCES if s.domain in wanted]


def built_models(*select: str) -> set[str]:
    """Names of the models (and seeds, snapshots) ``dbt build <select>`` builds."""
    from lakehouse.dbt_runner import list_nodes

    nodes, problem = list_nodes(_dbt_settings(), [*select, "--resource-type", "model", "seed", "snapshot"])
    assert problem is None and nodes, problem
    return set(nodes)


def run_report(result: dict) -> dict:
    """The run report JSON of a `lakehouse run` step's result (its path is on the last line)."""
    path = result["stdout"].rstrip().rsplit("report: ", 1)[-1]
    return json.loads(Path(path).read_text())


def models_built(report: dict) -> set[str]:
    """Names of the models (and seeds, snapshots) a run report's dbt build ran."""
    nodes = (report.get("dbt") or {}).get("nodes") or []
    return {n["name"] for n in nodes if n["resource_type"] in ("model", "seed", "snapshot")}


def pretend_edited_since_last_build(home: str, model: str) -> None:
    """Make the record of the last successful build (``lakehouse.selection``) hold another definition
    of ``model``, as if its file had been edited since that build: dbt's state comparison then finds
    it modified. (Tests cannot edit the project's files: other tests read them at the same time.)"""
    folder = Path(home) / "last-build"
    record = json.loads((folder / "record.json").read_text())
    manifest_file = folder / record["state"] / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    node = manifest["nodes"][f"model.lakehouse.{model}"]
    node["raw_code"] += "\n-- the definition of the last build"
    node["checksum"]["checksum"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))
    record["fingerprint"] = "the project's files changed since"
    (folder / "record.json").write_text(json.dumps(record))


def read_text(path: str) -> str:
    """A file's text at this point of a scenario (e.g. the SQL dbt compiled for the last run)."""
    return Path(path).read_text()


def checked_after(select: str, after: int) -> dict[str, object]:
    """``dbt test --select <select>`` as an incremental ``lakehouse run`` checks after batch ``after``
    (``macros/incremental_checks.sql``): each test's status and failures, and the SQL dbt compiled."""
    from ingestion.config import load_settings
    from lakehouse.dbt_runner import CHECK_ENV, run_dbt

    settings = load_settings()
    outcome = run_dbt(None, settings, ["test", "--select", select], env={CHECK_ENV: str(after)})
    compiled = json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    names = {n.unique_id: n.name for n in outcome.nodes}
    return {
        "tests": {n.name: [n.status, n.failures] for n in outcome.nodes},
        "sql": {names[r["unique_id"]]: r["compiled_code"] for r in compiled},
    }
