"""Datamart sources, generator and the never-arrived warning (fast; one test uses the Spark session)."""

from __future__ import annotations

import csv
import datetime as dt

from ingestion import transform
from ingestion.files import match_source
from ingestion.registry import SOURCES, get_source
from lakehouse.demo import datamart
from lakehouse.report import never_arrived_warnings

ACCOUNT = get_source("datamart_account")


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_table_folder_matches_only_its_own_source():
    for table in datamart.TABLES:
        assert match_source(f"datamart/{table}/{table}_20240101T180000.csv", SOURCES).name == f"datamart_{table}"
    # `datamart/account/*.csv` must not take the files of account_metadata or account_risk
    assert match_source("datamart/account_metadata/account_20240101.csv", SOURCES).name == "datamart_account_metadata"
    assert match_source("datamart/account/sub/x.csv", SOURCES) is None


def test_timestamps_with_and_without_fraction_parse_and_missing_keys_are_quarantined(spark):
    header = ["account_id", "updated_at", "is_deleted"]
    rows = [
        ("a1", "2024-01-01 10:00:00", None),
        ("a2", "2024-01-01 10:00:00.5", "true"),
        ("a3", "2024-01-01 10:00:00.123456", "false"),
        ("a4", "2024-13-01 10:00:00", None),
        (None, "2024-01-01 10:00:00", None),
        ("a6", None, None),
    ]
    frame = spark.createDataFrame([(*r, None) for r in rows], transform.raw_read_schema(len(header)))
    mapping, missing, _ = transform.header_mapping(ACCOUNT, header)
    typed = {r["_c0"]: r for r in transform.with_typed_columns(frame, ACCOUNT, mapping).collect()}
    assert typed["a1"]["updated_at"] == dt.datetime(2024, 1, 1, 10, 0, 0)
    assert typed["a2"]["updated_at"] == dt.datetime(2024, 1, 1, 10, 0, 0, 500000)
    assert typed["a3"]["updated_at"] == dt.datetime(2024, 1, 1, 10, 0, 0, 123456)
    assert [typed[k]["is_deleted"] for k in ("a1", "a2", "a3")] == [None, True, False]
    assert all(typed[k][transform.ERRORS] == [] for k in ("a1", "a2", "a3"))
    assert typed["a4"][transform.ERRORS] == ["updated_at: cannot parse '2024-13-01 10:00:00' as timestamp"]
    assert typed[None][transform.ERRORS] == ["account_id: required value is missing"]
    assert typed["a6"][transform.ERRORS] == ["updated_at: required value is missing"]
    assert "account_name" in missing  # absent columns are null, not errors


def test_generator_is_deterministic_and_covers_the_scenario(tmp_path):
    first = datamart.generate(tmp_path / "a", days=4, accounts=8, seed=3)
    second = datamart.generate(tmp_path / "b", days=4, accounts=8, seed=3)
    assert [[p.read_bytes() for p in day] for day in first] == [[p.read_bytes() for p in day] for day in second]
    tables = [{p.parent.name for p in day} for day in first]
    assert "queue" not in tables[0] and "adjustment" not in tables[0]  # these arrive a day later
    assert {"queue", "adjustment"} <= tables[1]
    assert tables[3] == {"account_risk"}  # the last day: a dimension-only change
    # a late extract: delivered on day 3 with changes older than the account extract of day 2
    late = [p for p in first[2] if p.parent.name == "account" and p.name < "account_20240102T180000.csv"]
    assert late and max(r["updated_at"] for r in read(late[0])) < "2024-01-02 18:00:00"
    accounts = [r for day in first for p in day if p.parent.name == "account" for r in read(p)]
    versions: dict[tuple[str, str], int] = {}
    for row in accounts:
        versions[(row["account_id"], row["updated_at"])] = versions.get((row["account_id"], row["updated_at"]), 0) + 1
    assert any(count > 1 for count in versions.values())  # equal timestamps for one key
    assert any(r.get("is_deleted") == "true" for r in accounts)
    assert any(r.get("is_deleted") == "false" for r in accounts)  # an un-delete
    every_file = [p for day in first for p in day]
    assert any("." in r["updated_at"] for p in every_file if p.parent.name == "account_risk" for r in read(p))


def test_never_arrived_warning_only_in_domains_that_have_files():
    arrived = {"datamart_account", "datamart_account_risk", "telecom_subscriptions"}
    warnings = never_arrived_warnings(arrived, SOURCES)
    assert "warning: datamart: no file has ever arrived for datamart_queue (gold is built without it)" in warnings
    assert len(warnings) == 4  # metadata, queue, transaction, adjustment; nothing for airline or events
    assert never_arrived_warnings(set(), SOURCES) == []
