"""One state directory through concurrent runs, a corrupt metastore and `lakehouse repair`, with a
scan of everything the runs wrote for PII and credentials.

1. run A is running; run B is refused at once with a message naming A (no Derby boot error);
   C (``ingest --wait``) waits for A, then finds nothing new (nothing doubled).
2. No run report, log or terminal output (`status` included) holds a credential from the environment
   or a PII value: names of quarantined and ingested rows, and of files rejected for every reason
   (header missing, wrong delimiter, required column missing, not UTF-8, binary, truncated gzip,
   impossible date in the name, a quote that never closes, blank lines only).
3. The metastore is corrupted: commands fail with one line that points at `lakehouse repair`;
   repair rebuilds the catalog from the Iceberg metadata in the warehouse: every table, its
   snapshots (time travel) and the ingestion ledger are back; the next run ingests only the new file.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestion.demo import telecom
from tests.conftest import REPO, run_cli
from tests.e2e.helpers import scenario

pytestmark = pytest.mark.e2e

TELECOM = ["run", "--select", "+path:models/gold/telecom telecom_plan_types"]
TABLES = [
    "bronze.telecom_subscriptions",
    "bronze.quarantine",
    "meta.ingest_files",
    "reference.telecom_plan_types",
    "silver.subscriptions",
    "gold.subscriptions_by_plan",
    "gold.subscription_loads",
]
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
    days = telecom.generate(outbox, days=3, rows_per_day=25, seed=9)
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
        [sys.executable, "-m", "ingestion.cli", *TELECOM],
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

    # 3. corrupt the metastore: a clear message, no stack trace
    for path in (home / "metastore_db" / "seg0").glob("*.dat"):
        path.write_bytes(os.urandom(4096))
    broken = run_cli("status", home=home)
    assert broken.returncode == 1
    assert "`lakehouse repair`" in broken.stderr and "\tat org." not in broken.stderr, broken.stderr[-2000:]

    (landing / "telecom" / days[2].name).write_bytes(days[2].read_bytes())
    repaired, after, rerun, status = scenario(
        home,
        landing,
        [
            {"cli": ["repair", "--yes"]},
            {"query": _everything()},
            {"cli": ["ingest"]},
            {"cli": ["status"]},
        ],
    )
    assert repaired["code"] == 0, repaired["stdout"] + repaired["stderr"]
    assert list(home.glob("metastore_db.broken-*")), "the old metastore is kept aside"
    assert after == before  # every table, with its snapshots and the ledger
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


def _everything() -> dict[str, str]:
    queries = {table: f"select * from {table}" for table in TABLES}
    queries["snapshots"] = (
        "select 'silver' as t, count(*) as n from silver.subscriptions.snapshots "
        "union all select 'bronze', count(*) from bronze.telecom_subscriptions.snapshots"
    )
    return queries
