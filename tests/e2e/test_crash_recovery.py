"""Kill -9 at every point of the commit protocol, and at a random moment of a full run: after a
clean re-run every table holds exactly what an uninterrupted run gives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from ingestion.demo import telecom
from ingestion.faults import POINTS
from tests.conftest import REPO, run_cli
from tests.e2e.helpers import STATE_SQL, scenario, telecom_state

pytestmark = pytest.mark.e2e

BAD_FILE = "customer_subscription_2023_09_30.csv"
TELECOM_RUN = ["run", "--select", "+path:models/gold/telecom telecom_plan_types"]


def expected_state(landing) -> dict[str, object]:
    """What an uninterrupted run must give, computed independently in plain Python from the files."""
    loads: dict[str, int] = defaultdict(int)
    bronze: dict[str, int] = {}
    latest: dict[int, tuple[str, str, Decimal]] = {}
    quarantine: dict[str, int] = {}
    for path in sorted((landing / "telecom").glob("*.csv")):
        rel = f"telecom/{path.name}"
        day = path.name.removeprefix("customer_subscription_").removesuffix(".csv").replace("_", "-")
        good = bad = 0
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(",")
            if len(fields) != 6 or not fields[4].isdigit():
                bad += 1
                continue
            good += 1
            customer = int(fields[0])
            if customer not in latest or latest[customer][0] <= day:
                latest[customer] = (day, fields[3], Decimal(fields[4]))
        loads[day] += good
        bronze[rel] = good
        if bad:
            quarantine[rel] = bad
    plans: dict[str, list[Decimal]] = defaultdict(list)
    for _, plan, charge in latest.values():
        plans[plan].append(charge)
    running, load_rows = 0, []
    for day in sorted(loads):
        running += loads[day]
        load_rows.append((day, loads[day], running))
    return {
        "loads": load_rows,
        "plans": {plan: len(charges) for plan, charges in plans.items()},
        "avg_charge_cents": {
            plan: int((sum(c) / len(c)).quantize(Decimal("0.01"), ROUND_HALF_UP) * 100) for plan, c in plans.items()
        },
        "bronze_by_file": bronze,
        "quarantine_by_file": quarantine,
        "silver_rows": len(latest),
        "silver_customers": len(latest),
    }


def test_kill_9_at_each_commit_point_then_rerun(tmp_path):
    home, landing, outbox = tmp_path / "home", tmp_path / "landing", tmp_path / "outbox"
    arrivals = telecom.generate(outbox, days=len(POINTS), rows_per_day=40, seed=11)
    (landing / "telecom").mkdir(parents=True)
    (outbox / "telecom" / BAD_FILE).write_text(
        "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n"
        "9001,Ann,Lee,Prepaid,25,2022-01-01\n9002,Bob,Ray,Prepaid,lots,2022-01-01\n9003,Cy,Dee"
    )
    for point, path in zip(POINTS, arrivals, strict=True):
        (landing / "telecom" / path.name).write_bytes(path.read_bytes())
        if point == "after_quarantine_append":
            (landing / "telecom" / BAD_FILE).write_bytes((outbox / "telecom" / BAD_FILE).read_bytes())
        killed = run_cli("ingest", home=home, landing=landing, env={"LAKEHOUSE_KILL_AT": point})
        assert killed.returncode == -signal.SIGKILL, f"{point}: {killed.stdout}{killed.stderr}"

    batches_sql = "select event, count(*) as n from meta.ingest_batches group by event"
    final, state = scenario(
        home, landing, [{"cli": TELECOM_RUN}, {"query": {"state": STATE_SQL, "batches": batches_sql}}]
    )
    assert final["code"] == 0, final["stdout"] + final["stderr"]
    assert telecom_state(state["state"]) == expected_state(landing)
    # Every kill before the commit point left a batch that a later run rolled back.
    before_commit = len(POINTS) - 1
    assert {r["event"]: int(r["n"]) for r in state["batches"]}["rolled_back"] == before_commit


def test_kill_9_during_a_full_run_then_rerun(tmp_path):
    home, landing = tmp_path / "home", tmp_path / "landing"
    telecom.generate(landing, days=3, rows_per_day=30, seed=5)
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(landing)}
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestion.cli", *TELECOM_RUN],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait until ingestion committed and dbt started
        if line.startswith("Ingestion"):
            break
    time.sleep(random.Random().uniform(0.0, 8.0))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)

    rerun, state = scenario(home, landing, [{"cli": TELECOM_RUN}, {"query": {"state": STATE_SQL}}])
    assert rerun["code"] == 0, rerun["stdout"] + rerun["stderr"]
    assert telecom_state(state["state"]) == expected_state(landing)
