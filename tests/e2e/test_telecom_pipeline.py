"""The telecom pipeline end to end on the three real files, through the CLI as a user runs it; then,
on the built tables and in the same process, what an operator does on a bad day: queries that would
write (refused, nothing changed), SQL from a file and stdin, the README's replay of quarantined rows
(`..._fix1.csv`), a rejected file delivered again, `ingest --source` beside other sources' files."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from tests.e2e.helpers import STATE_SQL, built_models, models_built, run_report, scenario, telecom_state

pytestmark = pytest.mark.e2e

WRITES = [
    "drop table gold.subscriptions_by_plan",
    "delete from bronze.telecom_subscriptions where 1=1",
    "with x as (select * from bronze.telecom_subscriptions) insert into bronze.telecom_subscriptions select * from x",
    "call system.rollback_to_snapshot('silver.subscriptions', 1)",
    "cache table gold.subscription_loads",
    "set spark.sql.ansi.enabled = false",
]
HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n"
DAY = "telecom/customer_subscription_2023_08_25"
OTHER_DAY = "telecom/customer_subscription_2023_08_26"
QUARANTINE_SQL = (  # the README's "Inspect and replay quarantined rows"
    "select _source_file, _record_number, reason, raw_record from bronze.quarantine\n"
    f"                 where _source_file = '{DAY}.csv' order by _record_number"
)


def bad_day_steps(files, events: list) -> list[dict]:
    """Steps after the three days: writes refused, SQL from a file/stdin, replay, --source."""
    (files / "plans.sql").write_text(
        "-- average charge per plan\nselect plan_type, avg_monthly_charge, cast(97.55 as decimal(10, 4)) as exact\n"
        "from gold.subscriptions_by_plan order by plan_type;\n"
    )
    (files / "bad.csv").write_text(
        HEADER + "9101,Ann,Lee,Prepaid,25,2023-08-01\n9102,Bo,Kim,Prepaid,twenty,2023-08-02\n"
    )
    (files / "fix1.csv").write_text(HEADER + "9102,Bo,Kim,Prepaid,20,2023-08-02\n")
    (files / "headerless.csv").write_text("9201,Cy,Ng,Postpaid,40,2023-08-03\n9202,Di,Ho,Postpaid,45,2023-08-04\n")
    (files / "fixed.csv").write_text(HEADER + (files / "headerless.csv").read_text())
    return [
        *[{"cli": ["query", sql, "--engine", "spark"]} for sql in WRITES],  # Spark's plan-based refusal
        {"query": {"state": STATE_SQL}},
        {"cli": ["query", "-- every row\nselect count(*) as n from bronze.telecom_subscriptions", "--format", "csv"]},
        {"cli": ["query", "-f", str(files / "plans.sql"), "--format", "json"]},
        {"cli": ["query", "-", "--format", "csv"], "stdin": "select count(*) as n from silver.subscriptions\n"},
        {"land": [[str(files / "bad.csv"), f"{DAY}.csv"], [str(files / "headerless.csv"), f"{OTHER_DAY}.csv"]]},
        {"cli": ["ingest"]},
        {"cli": ["query", QUARANTINE_SQL, "--format", "csv"]},
        {
            "land": [
                [str(files / "fix1.csv"), f"{DAY}_fix1.csv"],  # only the corrected row, the date + a suffix
                [str(files / "fixed.csv"), f"{OTHER_DAY}.csv"],  # the rejected file, fixed, same name
                *[[str(p), f"events/{p.name}"] for p in events],
                [str(files / "fixed.csv"), "airline/airport_codes/not_now.csv"],
            ]
        },
        {"cli": ["ingest", "--source", "telecom_subscriptions"]},
        {
            "query": {
                "bronze": "select _source_file, cast(_file_date as string) as d, count(*) as n "
                "from bronze.telecom_subscriptions where _file_date >= date'2023-08-25' group by 1, 2 order by 1",
                "other": "select count(*) as n from meta.ingest_files where source <> 'telecom_subscriptions'",
            }
        },
    ]


def test_three_daily_files_rerun_and_redelivery(tmp_path, shared_datasets):
    home, landing = tmp_path / "home", tmp_path / "landing"
    real = sorted((shared_datasets / "telecom").glob("customer_subscription_*.csv"))
    assert [p.name for p in real] == [
        "customer_subscription_2023_08_21.csv",
        "customer_subscription_2023_08_22.csv",
        "customer_subscription_2023_08_23.csv",
    ]
    expected_loads = [("2023-08-21", 20, 20), ("2023-08-22", 10, 30), ("2023-08-23", 20, 50)]

    # plain runs: the first builds everything, the next ones only what changed (lakehouse.selection)
    run, as_of = ["run"], ["run", "--vars", "{as_of_date: 2021-03-01}"]
    steps = []
    for day, path in enumerate(real):
        steps.append({"land": [[str(path), f"telecom/{path.name}"]]})
        if day == 2:  # its build fails (a bad as-of date): the day's batch stays pending for the next run
            steps.append({"cli": ["run", "--vars", "{as_of_date: 2021-3-1}"], "name": "failed build"})
        audit = ["--audit"] * (day == 1)  # day 1 keeps the audit tests in its incremental build, day 2 not
        steps += [
            {"cli": [*run, *audit], "name": f"run {day}"},
            {"query": {"state": STATE_SQL}, "name": f"state {day}"},
        ]
    # re-run: nothing new
    steps += [{"cli": run, "name": "rerun"}, {"query": {"state": STATE_SQL}, "name": "rerun state"}]
    redelivered = [[str(real[0]), "telecom/customer_subscription_2023_08_24.csv"]]  # same bytes, new name
    steps += [
        {"land": redelivered},
        {"cli": run, "name": "redelivery"},
        {"query": {"state": STATE_SQL}, "name": "redelivery state"},
        {"cli": as_of, "name": "as-of"},
        {"call": "pretend_edited_since_last_build", "args": [str(home), "subscriptions_by_plan"]},
        {"cli": as_of, "name": "edited"},
        {"cli": as_of, "name": "nothing new"},
        {"cli": ["run", "--full-refresh", "--select", "+path:models/gold/telecom"], "name": "full refresh"},
        {"query": {"state": STATE_SQL}, "name": "full refresh state"},
    ]
    events = sorted((shared_datasets / "events").glob("user_*.csv"))
    (tmp_path / "files").mkdir()
    results = scenario(home, landing, steps + bad_day_steps(tmp_path / "files", events))

    for day in range(3):
        run, state = results[f"run {day}"], telecom_state(results[f"state {day}"]["state"])
        assert run["code"] == 0, run["stdout"] + run["stderr"]
        assert "tests:" in run["stdout"] and " 0 failed" in run["stdout"]
        assert state["loads"] == expected_loads[: day + 1]

    assert state["plans"] == {"Postpaid": 25, "Prepaid": 25}
    assert state["silver_rows"] == state["silver_customers"] == 50
    assert sum(state["bronze_by_file"].values()) == 50
    assert state["quarantine_by_file"] == {}

    rerun, rerun_state = results["rerun"], telecom_state(results["rerun state"]["state"])
    assert rerun["code"] == 0, rerun["stdout"] + rerun["stderr"]
    assert "no new files" in rerun["stdout"]
    assert rerun_state == state

    redelivery, redelivery_state = results["redelivery"], telecom_state(results["redelivery state"]["state"])
    assert redelivery["code"] == 0, redelivery["stdout"] + redelivery["stderr"]
    assert "same content as telecom/customer_subscription_2023_08_21.csv" in redelivery["stdout"]
    assert redelivery_state == state

    # what each run built: everything first, then only what changed, and why
    telecom = built_models("--select", "source:telecom.subscriptions+")
    assert run_report(results["run 0"])["dbt"]["selection"]["mode"] == "everything"
    assert models_built(run_report(results["run 0"])) == built_models()
    assert models_built(run_report(results["run 1"])) == telecom
    assert "downstream of telecom (new batch(es) 2)" in results["run 1"]["stdout"]
    assert results["failed build"]["code"] == 1, results["failed build"]["stdout"]
    pending = results["run 2"]  # no new file, but batch 3 was never built, nor the as-of models since
    assert "no new files" in pending["stdout"] and "downstream of telecom (new batch(es) 3)" in pending["stdout"]
    assert models_built(run_report(pending)) == telecom | built_models("--select", "tag:as_of_date+")
    # the audit (silver equals a rebuild of all history): in every full build, with --audit, else left out
    audit = "assert_subscriptions_equal_full_rebuild"
    ran = {name: {n["name"] for n in run_report(results[name])["dbt"]["nodes"]} for name in ("run 0", "run 1", "run 2")}
    assert audit in ran["run 0"] and audit in ran["run 1"] and audit not in ran["run 2"], ran
    assert "left out" not in results["run 1"]["stdout"]
    assert "left out 1 audit test(s) (tag:audit" in pending["stdout"]
    assert run_report(pending)["dbt"]["selection"]["exclude"] == "tag:audit"
    for name in ("rerun", "redelivery", "nothing new"):
        assert results[name]["code"] == 0 and "dbt: skipped, nothing changed" in results[name]["stdout"], name
        assert run_report(results[name])["dbt"]["nodes"] == [], name
    assert "as-of 2021-03-01 vs 20" in results["as-of"]["stdout"]
    assert models_built(run_report(results["as-of"])) == built_models("--select", "tag:as_of_date+")
    assert "changed since the last build (definition changed)" in results["edited"]["stdout"]
    assert models_built(run_report(results["edited"])) == built_models("--select", "subscriptions_by_plan+")
    # and the tables equal a full rebuild of them
    assert results["full refresh"]["code"] == 0, results["full refresh"]["stdout"]
    assert telecom_state(results["full refresh state"]["state"]) == state

    # a query that would write is refused before it runs: exit 2, nothing changed
    bad_day = results[len(steps) :]
    for sql, refused in zip(WRITES, bad_day, strict=False):
        assert refused["code"] == 2, (sql, refused)
        assert refused["stderr"].startswith("error: query is read-only: "), refused["stderr"]
    after, commented, from_file, from_stdin, _, first, quarantined, _, second, replayed = bad_day[len(WRITES) :]
    assert telecom_state(after["state"]) == state
    # SQL starting with a comment, from a file, from stdin; json decimals exact with the column's scale
    assert commented["code"] == 0 and commented["stdout"].split() == ["n", "50"], commented
    assert from_file["code"] == 0, from_file
    plans = json.loads(from_file["stdout"])
    assert [p["plan_type"] for p in plans] == ["Postpaid", "Prepaid"]
    assert {p["exact"] for p in plans} == {"97.5500"}
    assert {p["plan_type"]: Decimal(p["avg_monthly_charge"]) * 100 for p in plans} == state["avg_charge_cents"]
    assert from_stdin["code"] == 0 and from_stdin["stdout"].split() == ["n", "50"], from_stdin

    # the README's replay: quarantined row fixed in `<date>_fix1.csv`; a rejected file delivered again
    assert first["code"] == 0, first
    assert (
        f"REJECTED {OTHER_DAY}.csv: header matches none of the expected columns: its first line has 6"
        in (first["stdout"])
    )
    rows = list(csv.DictReader(io.StringIO(quarantined["stdout"])))
    assert [(r["_record_number"], r["reason"]) for r in rows] == [
        ("2", "MonthlyCharge: cannot parse 'twenty' as decimal(10,2)")
    ]
    assert second["code"] == 0, second
    assert replayed["bronze"] == [
        {"_source_file": f"{DAY}.csv", "d": "2023-08-25", "n": "1"},
        {"_source_file": f"{DAY}_fix1.csv", "d": "2023-08-25", "n": "1"},
        {"_source_file": f"{OTHER_DAY}.csv", "d": "2023-08-26", "n": "2"},
    ]
    # --source: the other sources' files are left alone and summed up in one line
    assert replayed["other"] == [{"n": "0"}]
    ignored = [line for line in second["stdout"].splitlines() if "ignored" in line]
    assert ignored == [f"  ignored  {len(events) + 1} file(s) of other sources (not selected by --source)"]
