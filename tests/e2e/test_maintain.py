"""`lakehouse maintain` after many small runs (demo telecom files, one run or ingestion each, through the CLI),
in one process: a dry run changes nothing; maintenance makes the data file count fall, leaves every table's
content as it was, keeps time travel to a moment inside the retention (the old content), expires a snapshot
older than it, and removes an orphan file.

The retention is set so that its window opens in a pause between the second and the third run (the
scenario's marks): runs 1 and 2 are older than the retention, runs 3 and 4 inside it."""

from __future__ import annotations

import pytest

from ingestion.ledger import BATCHES, FILES
from ingestion.registry import QUARANTINE_TABLE
from lakehouse.demo import telecom
from tests.e2e.helpers import bronze_tables, built_tables, scenario

pytestmark = pytest.mark.e2e

TELECOM = ("--select", "+path:models/gold/telecom telecom_plan_types")
RUN = ["run", *TELECOM]  # telecom gold and everything upstream
TRAVELLED = ["bronze.telecom_subscriptions", "silver.subscriptions", "gold.subscription_loads"]


COUNTS = (
    "select (select count(*) from bronze.telecom_subscriptions) as bronze, "
    "(select count(*) from silver.subscriptions) as silver, "
    "(select count(distinct customer_id) from silver.subscriptions) as customers, "
    "(select count(*) from gold.subscription_loads) as loads"
)


def every_table() -> list[str]:
    """The tables of this scenario's home: the registry's bronze tables (all created by the first
    ingestion), the quarantine, the ledger, and what dbt builds for telecom."""
    from ingestion.registry import SOURCES

    return [*(s.table for s in SOURCES), QUARANTINE_TABLE, BATCHES, FILES, *built_tables(*TELECOM)]


def contents(tables: list[str]) -> dict[str, str]:
    return {table: f"select * from {table}" for table in tables}


def commits(tables: list[str]) -> dict[str, str]:
    """Every snapshot and metadata version of each table: equal before and after = nothing committed."""
    return {
        f"{table} commits": f"select 'snapshot' as kind, cast(snapshot_id as string) as id from {table}.snapshots "
        f"union all select 'metadata', file from {table}.metadata_log_entries"
        for table in tables
    }


def data_files(tables: list[str]) -> dict[str, str]:
    return {"data files": " union all ".join(f"select count(*) as n from {t}.files" for t in tables)}


def time_travel(tables: list[str], moment: str) -> dict[str, str]:
    """Each table as it was at ``moment`` (Spark's ``timestamp as of``). The one place that reads the past:
    `lakehouse query --as-of` can take over here."""
    return {f"{table} as of": f"select * from {table} timestamp as of '{moment}'" for table in tables}


def unordered(rows: list[dict[str, str]]) -> list[tuple]:
    return sorted(tuple(sorted(row.items())) for row in rows)


def test_maintain_after_many_small_runs(tmp_path):
    days = telecom.generate(tmp_path / "outbox", days=5, rows_per_day=10)
    tables = every_table()
    assert len(bronze_tables(["telecom"])) == 1 and set(TRAVELLED) <= set(tables)
    orphan = tmp_path / "orphan.parquet"
    orphan.write_bytes(b"PAR1 not referenced by any snapshot")

    def land(day: int) -> dict:
        return {"land": [[str(days[day]), f"telecom/{days[day].name}"]]}

    steps = [
        land(0),
        {"cli": RUN, "name": "run 1"},
        {"mark": "run 1 done"},
        land(1),
        {"cli": ["ingest"], "name": "run 2"},  # a small run: ingestion only
        {"mark": "run 2 done", "sleep": 2},
        {"mark": "window", "sleep": 3},  # the retention window opens here
        {"mark": "inside", "sleep": 3},  # a moment inside the window, before run 3
        {"query": contents(TRAVELLED), "name": "at inside"},
        land(2),
        {"cli": ["ingest"], "name": "run 3"},
        land(3),
        {"cli": ["ingest"], "name": "run 4"},
        # a stray file in a table folder (landed relative to the landing root: ../home/warehouse/...)
        {"land": [[str(orphan), "../home/warehouse/meta.db/ingest_files/data/orphan.parquet"]]},
        {"query": {**contents(tables), **commits(tables), **data_files(tables)}, "name": "before"},
        {"cli": ["maintain", "--dry-run", "--older-than", "{{seconds_since:window}}"], "name": "dry run"},
        {"query": commits(tables), "name": "after dry run"},
        {"cli": ["maintain", "--older-than", "{{seconds_since:window}}"], "name": "maintain"},
        {"query": {**contents(tables), **commits(tables), **data_files(tables)}, "name": "after"},
        {"query": time_travel(TRAVELLED, "{{mark:inside}}"), "name": "travel"},
        {
            "cli": [
                "query",
                "--engine",
                "spark",
                f"select count(*) from {TRAVELLED[0]} timestamp as of '{{{{mark:run 1 done}}}}'",
            ],
            "name": "before the window",
        },
        # afterwards: the ledger still balances, and the new files are ingested once and merged incrementally
        # (silver's watermark reads batches 2 to 5 from compacted bronze)
        {"cli": ["status"], "name": "status"},
        land(4),
        {"cli": RUN, "name": "run 5"},
        {"query": {"counts": COUNTS}, "name": "after run 5"},
    ]
    home = tmp_path / "home"
    results = scenario(home, tmp_path / "landing", steps)
    for name in ("run 1", "run 2", "run 3", "run 4", "dry run", "maintain", "status", "run 5"):
        assert results[name]["code"] == 0, (name, results[name])

    before, after = results["before"], results["after"]
    dry_run, maintained = results["dry run"]["stdout"], results["maintain"]["stdout"]
    # the dry run: nothing committed (same snapshots and metadata versions), the orphan only listed
    assert {k: unordered(v) for k, v in results["after dry run"].items()} == {
        k: unordered(before[k]) for k in commits(tables)
    }
    assert "  would remove meta.db/ingest_files/data/orphan.parquet (35 bytes)" in dry_run, dry_run
    assert "nothing was changed" in dry_run
    assert "staging." not in dry_run + maintained and "intermediate." not in dry_run + maintained  # views
    # maintenance: fewer data files, every row as it was, the orphan gone
    files_before = sum(int(r["n"]) for r in before["data files"])
    files_after = sum(int(r["n"]) for r in after["data files"])
    assert files_after < files_before, (files_before, files_after, maintained)
    for table in tables:
        assert unordered(after[table]) == unordered(before[table]), table
    assert "  removing meta.db/ingest_files/data/orphan.parquet (35 bytes)" in maintained, maintained
    assert not (home / "warehouse/meta.db/ingest_files/data/orphan.parquet").exists()
    # the dry run said exactly what maintenance did
    would = dry_run.splitlines()[-1]
    did = maintained.splitlines()[-1]
    expired = int(did.split("expired ")[1].split(" ")[0])
    assert f"would expire {expired} snapshot(s)" in would and expired > 0, (would, did)
    compacted = int(did.split("compacted ")[1].split(" ")[0])
    assert f"compact {compacted} small file(s)" in would and compacted > 0, (would, did)
    assert f"{files_before} -> {files_after}" in maintained.split("total")[-1], maintained

    # time travel inside the retention: the old content, as read then (before runs 3 and 4)
    travel = results["travel"]
    for table in TRAVELLED:
        assert unordered(travel[f"{table} as of"]) == unordered(results["at inside"][table]), table
    assert unordered(travel[f"{TRAVELLED[0]} as of"]) != unordered(after[TRAVELLED[0]])  # it is the past
    # before the window: run 1's snapshot is gone (run 2's, current when the window opened, is kept)
    gone = results["before the window"]
    assert gone["code"] == 1 and "Cannot find a snapshot older than" in gone["stderr"], gone
    snapshots_before = {r["id"] for r in before[f"{TRAVELLED[0]} commits"] if r["kind"] == "snapshot"}
    snapshots_after = {r["id"] for r in after[f"{TRAVELLED[0]} commits"] if r["kind"] == "snapshot"}
    assert len(snapshots_before - snapshots_after) == 1, (snapshots_before, snapshots_after)

    # after maintenance: conservation holds, and the fifth file lands once in bronze and merges into silver
    assert "conservation: OK" in results["status"]["stdout"], results["status"]
    records = [line.split(",") for path in days for line in path.read_text().splitlines()[1:]]
    assert results["after run 5"]["counts"] == [
        {
            "bronze": str(len(records)),
            "silver": str(len({r[0] for r in records})),
            "customers": str(len({r[0] for r in records})),
            "loads": str(len(days)),
        }
    ]
