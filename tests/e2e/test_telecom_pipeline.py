"""The telecom pipeline end to end on the three real files, through the CLI as a user runs it."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_cli
from tests.e2e.helpers import telecom_state

pytestmark = pytest.mark.e2e


def test_three_daily_files_rerun_and_redelivery(tmp_path, shared_datasets):
    home, landing = tmp_path / "home", tmp_path / "landing"
    (landing / "telecom").mkdir(parents=True)
    real = sorted((shared_datasets / "telecom").glob("customer_subscription_*.csv"))
    assert [p.name for p in real] == [
        "customer_subscription_2023_08_21.csv",
        "customer_subscription_2023_08_22.csv",
        "customer_subscription_2023_08_23.csv",
    ]
    expected_loads = [("2023-08-21", 20, 20), ("2023-08-22", 10, 30), ("2023-08-23", 20, 50)]

    for day, path in enumerate(real):
        shutil.copy(path, landing / "telecom" / path.name)
        result = run_cli("run", home=home, landing=landing)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "tests:" in result.stdout and " 0 failed" in result.stdout
        state = telecom_state(home)
        assert state["loads"] == expected_loads[: day + 1]

    assert state["plans"] == {"Postpaid": 25, "Prepaid": 25}
    assert state["silver_rows"] == state["silver_customers"] == 50
    assert sum(state["bronze_by_file"].values()) == 50
    assert state["quarantine_by_file"] == {}

    rerun = run_cli("run", home=home, landing=landing)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "no new files" in rerun.stdout
    assert telecom_state(home) == state

    shutil.copy(real[0], landing / "telecom" / "customer_subscription_2023_08_24.csv")
    redelivered = run_cli("run", home=home, landing=landing)
    assert redelivered.returncode == 0, redelivered.stdout + redelivered.stderr
    assert "same content as telecom/customer_subscription_2023_08_21.csv" in redelivered.stdout
    assert telecom_state(home) == state
