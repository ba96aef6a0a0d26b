"""One state directory through concurrent runs, a corrupt metastore and `lakehouse repair`, with a
scan of everything the runs wrote for PII and credentials.

1. run A is running; run B is refused at once with a message naming A (no Derby boot error);
   C (``ingest --wait``) waits for A, then finds nothing new (nothing doubled).
2. No run report, log or terminal output (`status` included) holds a credential from the environment
   or a PII value: names of quarantined and ingested rows, and of files rejected for every reason
   (header missing, wrong delimiter, required column missing, not UTF-8, binary, truncated gzip,
   impossible date in the name, a quote that never closes, blank lines only).
3. `status` as the first command after a `kill -9` of an ingestion: it repairs nothing, and the
   killed batch's rows are pending (exit 0), not a conservation break; the next ingest rolls back.
4. The metastore is corrupted: commands fail with one line that points at `lakehouse repair`.
5. Then it is lost (moved away), over a warehouse with a stray empty table version, a stray data
   file and a table dropped without purge and created again: every command refuses with one line,
   before Spark starts and also after Spark created an empty metastore, writing nothing in the
   warehouse.
6. `repair` rebuilds the catalog from the Iceberg metadata in the warehouse, each table at its true
   head: every row of every layer, the snapshots (time travel) and the ingestion ledger are back;
   the next run ingests only the new file. `repair --orphans --dry-run` lists the orphan files
   (deleting nothing); `repair --orphans --yes` removes exactly those, and every table reads the same.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lakehouse.demo import telecom
from tests.conftest import REPO, run_cli
from tests.e2e.helpers import bronze_tables, built_tables, scenario

pytestmark = pytest.mark.e2e

TELECOM = ["run", "--select", "+path:models/gold/telecom telecom_plan_types"]
DROP_GONE = "drop table bronze.gone"  # without purge: the folder stays
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYTESTSECRET"
PII = ["Zelda-Quarantined-Pii", "Yusuf-Ingested-Pii", "+1-555-0199-PII"]
HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n"
REJECTED_PII = {  # landing path -> (bytes, a PII value in it): every kind of file rejection
    "telecom/customer_subscription_2023_08_31.csv": (
        b"9101,Headerless-Pii-Zebediah,Quackenbush,Prepaid,25,2022-01-01\n",
    ),
    "telecom/customer_subscription_2023_09_01.csv": (
        HEADER.replace(",", ";") + "9102;Delimiter-Pii-Ann;X;Prepaid;25;2022-01-01\n",
    ),
    "telecom/customer_subscription_2023_09_02.csv": (
        HEADER.replace("CustomerID,", "") + "Required-Pii-Bo,X,Prepaid,25,2022-01-01\n",
    ),
    "telecom/customer_subscription_2023_09_03.csv": (
        HEADER.encode() + "9103,Latin1-Pii-Jos\u00e9,X,Prepaid,25,2022-01-01\n".encode("latin-1"),
    ),
    "telecom/customer_subscription_2023_09_04.csv": (HEADER.encode() + b"9104,Binary-Pii-Cy\x00\x01\x02,X\n",),
    "telecom/customer_subscription_2023_09_05.csv.gz": (
        gzip.compress((HEADER + "9105,Gzip-Pii-Di,X,Prepaid,25,2022-01-01\n" * 50).encode())[:60],
    ),
    "telecom/customer_subscription_2023_02_30.csv": (HEADER + "9106,Date-Pii-Ed,X,Prepaid,25,2022-01-01\n",),
    "invoices/accounts/accounts_quote.csv": (
        "account_id,company_name,company_address,contact_person,contact_phone,gender,joining_date\n"
        '7001,Quote-Pii-Co,"1 Never Closed Street,Quote-Pii-Fay,555,F,1/1/2020\n7002,B,C,D,E,F,1/1/2020\n',
    ),
    "telecom/customer_subscription_2023_09_06.csv": ("\n\n   \n",),
}
REJECTED_VALUES = [
    "Headerless-Pii-Zebediah",
    "Quackenbush",
    "Delimiter-Pii-Ann",
    "Required-Pii-Bo",
    "Latin1-Pii-Jos",
    "Binary-Pii-Cy",
    "Gzip-Pii-Di",
    "Date-Pii-Ed",
    "Quote-Pii-Co",
    "Quote-Pii-Fay",
]


def pii_file(path: Path) -> None:
    path.write_text(
        "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n"
        f"9001,{PII[1]},{PII[2]},Prepaid,25,2022-01-01\n"
        f"9002,{PII[0]},{PII[2]},Prepaid,not-a-number,2022-01-01\n"
    )


def test_concurrent_runs_then_repair_of_a_corrupt_metastore(tmp_path):
    home, landing, outbox = tmp_path / "home", tmp_path / "landing", tmp_path / "outbox"
    days = telecom.generate(outbox, days=4, rows_per_day=25, seed=9)
    (landing / "telecom").mkdir(parents=True)
    for path in days[:2]:
        (landing / "telecom" / path.name).write_bytes(path.read_bytes())
    pii_file(landing / "telecom" / "customer_subscription_2023_08_30.csv")
    for relative, (content,) in REJECTED_PII.items():
        (landing / relative).parent.mkdir(parents=True, exist_ok=True)
        (landing / relative).write_bytes(content if isinstance(content, bytes) else content.encode())
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(landing)}
    env["AWS_SECRET_ACCESS_KEY"] = SECRET

    # 1. A runs; B is refused; C waits, then has nothing to do
    run_a = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", *TELECOM],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = home / "lakehouse.lock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lock.exists() and str(run_a.pid) in lock.read_text()):
        time.sleep(0.2)
    run_b = run_cli(*TELECOM, home=home, landing=landing, env={"AWS_SECRET_ACCESS_KEY": SECRET})
    assert run_b.returncode == 1, run_b.stdout + run_b.stderr
    assert f"in use by pid {run_a.pid} (run, since" in run_b.stderr and "--wait" in run_b.stderr
    assert "Traceback" not in run_b.stderr and "Derby" not in run_b.stderr
    run_c, before = scenario(home, landing, [{"cli": ["--wait", "600", "ingest"]}, {"query": _everything()}])
    out_a, err_a = run_a.communicate(timeout=600)
    assert run_a.returncode == 0, out_a + err_a
    rejected = len(REJECTED_PII)
    assert f"WARNING: 1 row(s) quarantined and {rejected} file(s) rejected" in out_a  # succeeded, said so loudly
    assert out_a.count("  REJECTED ") == rejected, out_a
    assert "record 2: MonthlyCharge: cannot parse 'not-a-number' as decimal(10,2)" in out_a
    assert run_c["code"] == 0 and "Ingestion: no new files" in run_c["stdout"], run_c
    assert len(before["bronze.telecom_subscriptions"]) == 25 + 25 + 1  # nothing doubled

    # 2. nothing written or printed holds the secret or a PII value
    written = [p for d in ("runs", "logs", "dbt") for p in (home / d).rglob("*") if p.is_file()]
    assert any(p.parent.name == "runs" for p in written)
    for text in [out_a, err_a, run_b.stdout, run_b.stderr, run_c["stdout"], run_c["stderr"]] + [
        p.read_text(errors="replace") for p in written
    ]:
        assert SECRET not in text
        assert not [value for value in PII + REJECTED_VALUES if value in text]
    # (the quarantined row itself is kept, in bronze.quarantine, as sensitive as bronze)
    assert any(PII[0] in row["raw_record"] for row in before["bronze.quarantine"])

    # 3. kill -9 inside an ingestion batch (its rows are in bronze, the ledger has no commit), then `status`
    (landing / "telecom" / days[3].name).write_bytes(days[3].read_bytes())
    killed = run_cli("ingest", home=home, landing=landing, env={"LAKEHOUSE_KILL_AT": "after_bronze_append"})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    gold = home / "warehouse" / "gold.db" / "subscriptions_by_plan"
    dropped = {p.name for p in (gold / "metadata").glob("*.metadata.json")}
    assert all((gold / "metadata" / f".{name}.crc").exists() for name in dropped)  # Hadoop's checksums
    pending, recovered, _, before_loss = scenario(
        home,
        landing,
        [
            {"cli": ["status"]},
            {"cli": ["ingest"]},
            # the old way of rebuilding a table: dropped without purge, created again at its location
            {"query": rebuilt_by_drop_and_create("gold.subscriptions_by_plan")},
            {"query": _everything()},
        ],
    )
    assert pending["code"] == 0, pending
    assert "did not finish (killed?)" in pending["stdout"] and "repairs nothing" in pending["stdout"]
    assert "rolled back or completed by this run" not in pending["stdout"]
    assert "pending: 25 row(s) of batch(es)" in pending["stdout"] and "conservation: OK" in pending["stdout"]
    assert recovered["code"] == 0 and "rolled back" in recovered["stdout"], recovered
    assert len(before_loss["bronze.telecom_subscriptions"]) == 25 * 3 + 1
    assert len(before_loss["gold.subscriptions_by_plan"]) == 2

    # 4. corrupt the metastore: a clear message, no stack trace
    for path in (home / "metastore_db" / "seg0").glob("*.dat"):
        path.write_bytes(os.urandom(4096))
    broken = run_cli("status", home=home)
    assert broken.returncode == 1
    assert "`lakehouse repair`" in broken.stderr and "\tat org." not in broken.stderr, broken.stderr[-2000:]

    # 5. then lose it, with what older versions left in table folders
    bronze = home / "warehouse" / "bronze.db" / "telecom_subscriptions"
    strays = {plant_empty_create(bronze), plant_data_file(bronze)}
    warehouse_files = sorted(p.relative_to(home) for p in (home / "warehouse").rglob("*"))
    metadata_files = (home / "warehouse").glob("*.db/*/metadata/*.metadata.json")
    tables = len({p.parent for p in metadata_files if not p.name.endswith(".gz.metadata.json")})  # not views
    message = f"error: the metastore is missing but the warehouse holds {tables} tables; run lakehouse repair"
    shutil.move(home / "metastore_db", tmp_path / "lost-metastore")
    refused = run_cli("status", home=home)  # before Spark starts
    assert refused.returncode == 1 and refused.stderr.strip() == message, refused.stderr
    # a bare pyspark (here: a query step) over the lost metastore creates an empty one; commands refuse too
    _, empty_status, empty_ingest = scenario(
        home, landing, [{"query": {"databases": "show databases"}}, {"cli": ["status"]}, {"cli": ["ingest"]}]
    )
    for result in (empty_status, empty_ingest):
        assert result["code"] == 1 and result["stderr"].strip() == message, result
    assert sorted(p.relative_to(home) for p in (home / "warehouse").rglob("*")) == warehouse_files

    # 6. repair: each table at its true head; then orphan files
    (landing / "telecom" / days[2].name).write_bytes(days[2].read_bytes())
    repaired, after, rerun, status, uncleaned, _, dry_run, removal, cleaned = scenario(
        home,
        landing,
        [
            {"cli": ["repair", "--yes"]},
            {"query": _everything()},
            {"cli": ["ingest"]},
            {"cli": ["status"]},
            {"query": _everything()},
            # a table dropped without purge after the repair: its folder belongs to no registered table
            {"query": {"create": "create table bronze.gone using iceberg as select 1 as x", "drop": DROP_GONE}},
            {"cli": ["repair", "--orphans", "--dry-run"]},
            {"cli": ["repair", "--orphans", "--yes"]},
            {"query": _everything()},
        ],
    )
    assert repaired["code"] == 0, repaired["stdout"] + repaired["stderr"]
    assert list(home.glob("metastore_db.broken-*")), "the old metastore is kept aside"
    assert "note: gold.subscriptions_by_plan:" in repaired["stdout"], repaired["stdout"]
    # every row of every layer, the snapshots and the ledger
    assert unordered(after) == unordered(before_loss)
    assert rerun["code"] == 0, rerun["stdout"] + rerun["stderr"]
    ingested = [line for line in rerun["stdout"].splitlines() if line.startswith("telecom_subscriptions")]
    assert ingested and ingested[0].split()[1:2] == ["1"], rerun["stdout"]  # only the new file
    assert status["code"] == 0 and "conservation: OK" in status["stdout"], status
    assert status["stdout"].count("  REJECTED ") == len(REJECTED_PII), status["stdout"]
    assert "is the header missing" in status["stdout"]
    for text in [status["stdout"], status["stderr"], rerun["stdout"]] + [
        p.read_text(errors="replace") for d in ("runs", "logs") for p in (home / d).rglob("*") if p.is_file()
    ]:
        assert not [value for value in PII + REJECTED_VALUES if value in text]
    reports = sorted((home / "runs").glob("*-ingest.json"))
    assert json.loads(reports[-1].read_text())["ingest"]["sources"]["telecom_subscriptions"]["rows_ingested"] == 25

    listed = orphans_listed(dry_run["stdout"], "would remove")
    assert dry_run["code"] == 0 and "nothing was deleted" in dry_run["stdout"], dry_run
    assert {str(p.relative_to(home / "warehouse")) for p in strays} <= set(listed), listed
    assert {f"gold.db/subscriptions_by_plan/metadata/{name}" for name in dropped} <= set(listed), listed
    assert all(size > 0 for size in listed.values())
    assert orphans_listed(removal["stdout"], "removing") == listed  # the dry run deleted nothing
    assert removal["code"] == 0 and f"removed {len(listed)} orphan file(s)" in removal["stdout"], removal
    assert not [p for p in strays if p.exists()]
    assert not [name for name in dropped if (gold / "metadata" / name).exists()]
    assert not [name for name in dropped if (gold / "metadata" / f".{name}.crc").exists()]
    unowned = "bronze.gone: its folder is not a registered table: left alone"
    assert unowned in dry_run["stdout"] and unowned in removal["stdout"]
    assert list((home / "warehouse" / "bronze.db" / "gone" / "data").glob("*.parquet"))
    assert len(uncleaned["bronze.telecom_subscriptions"]) == 25 * 4 + 1
    assert unordered(cleaned) == unordered(uncleaned)  # nothing referenced was removed


def unordered(answer: dict[str, list[dict[str, str]]]) -> dict[str, list[tuple]]:
    """Query results as sorted rows: `select *` without `order by` has no fixed row order."""
    return {table: sorted(tuple(sorted(row.items())) for row in rows) for table, rows in answer.items()}


def rebuilt_by_drop_and_create(table: str) -> dict[str, str]:
    """SQL that drops ``table`` without purge and creates it again with the same rows at its location."""
    return {
        "copy": f"create table {table}_keep using iceberg as select * from {table}",
        "drop": f"drop table {table}",
        "create": f"create table {table} using iceberg as select * from {table}_keep",
        "drop copy": f"drop table {table}_keep purge",
    }


def plant_empty_create(table_dir: Path) -> Path:
    """What a command on a lost metastore used to write: a new, empty table version (own uuid)."""
    newest = max((table_dir / "metadata").glob("*.metadata.json"), key=lambda p: p.stat().st_mtime)
    metadata = json.loads(newest.read_text())
    metadata.update(
        {
            "table-uuid": str(uuid.uuid4()),
            "last-updated-ms": int(time.time() * 1000),
            "current-snapshot-id": -1,
            "snapshots": [],
            "snapshot-log": [],
            "metadata-log": [],
            "refs": {},
            "last-sequence-number": 0,
        }
    )
    stray = table_dir / "metadata" / f"00000-{uuid.uuid4()}.metadata.json"
    stray.write_text(json.dumps(metadata))
    return stray


def plant_data_file(table_dir: Path) -> Path:
    """A data file no snapshot references (a killed writer's, or copied in by hand)."""
    stray = table_dir / "data" / "stray-00000-0-copy.parquet"
    shutil.copy(next((table_dir / "data").glob("*.parquet")), stray)
    return stray


def orphans_listed(stdout: str, verb: str) -> dict[str, int]:
    """``{path relative to the warehouse: bytes}`` from `repair --orphans` output lines."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith(f"  {verb} "):
            path, size = line.removeprefix(f"  {verb} ").rsplit(" (", 1)
            found[path] = int(size.removesuffix(" bytes)"))
    return found


def _everything() -> dict[str, str]:
    tables = [*bronze_tables(["telecom"]), "bronze.quarantine", "meta.ingest_files", *built_tables(*TELECOM[1:])]
    queries = {table: f"select * from {table}" for table in tables}
    queries["snapshots"] = (
        "select 'silver' as t, count(*) as n from silver.subscriptions.snapshots "
        "union all select 'bronze', count(*) from bronze.telecom_subscriptions.snapshots"
    )
    return queries
