"""The telecom pipeline end to end on the three real files, through the CLI as a user runs it."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import STATE_SQL, scenario, telecom_state

pytestmark = pytest.mark.e2e


def test_three_daily_files_rerun_and_redelivery(tmp_path, shared_datasets):
    home, landing = tmp_path / "home", tmp_path / "landing"
    real = sorted((shared_datasets / "telecom").glob("customer_subscription_*.csv"))
    assert [p.name for p in real] == [
        "customer_subscription_2023_08_21.csv",
        "customer_subscription_2023_08_22.csv",
        "customer_subscription_2023_08_23.csv",
    ]
    expected_loads = [("2023-08-21", 20, 20), ("2023-08-22", 10, 30), ("2023-08-23", 20, 50)]

    telecom_only = ["run", "--select", "+path:models/gold/telecom telecom_plan_types"]  # gold and all upstream
    steps = []
    for path in real:
        steps += [
            {"land": [[str(path), f"telecom/{path.name}"]]},
            {"cli": telecom_only},
            {"query": {"state": STATE_SQL}},
        ]
    steps += [{"cli": telecom_only}, {"query": {"state": STATE_SQL}}]  # re-run: nothing new
    redelivered = [[str(real[0]), "telecom/customer_subscription_2023_08_24.csv"]]  # same bytes, new name
    steps += [{"land": redelivered}, {"cli": telecom_only}, {"query": {"state": STATE_SQL}}]
    results = scenario(home, landing, steps)

    for day in range(3):
        run, state = results[3 * day + 1], telecom_state(results[3 * day + 2]["state"])
        assert run["code"] == 0, run["stdout"] + run["stderr"]
        assert "tests:" in run["stdout"] and " 0 failed" in run["stdout"]
        assert state["loads"] == expected_loads[: day + 1]

    assert state["plans"] == {"Postpaid": 25, "Prepaid": 25}
    assert state["silver_rows"] == state["silver_customers"] == 50
    assert sum(state["bronze_by_file"].values()) == 50
    assert state["quarantine_by_file"] == {}

    rerun, rerun_state = results[9], telecom_state(results[10]["state"])
    assert rerun["code"] == 0, rerun["stdout"] + rerun["stderr"]
    assert "no new files" in rerun["stdout"]
    assert rerun_state == state

    redelivery, redelivery_state = results[12], telecom_state(results[13]["state"])
    assert redelivery["code"] == 0, redelivery["stdout"] + redelivery["stderr"]
    assert "same content as telecom/customer_subscription_2023_08_21.csv" in redelivery["stdout"]
    assert redelivery_state == state
