"""Pure DataFrame transformations of ingestion, on a real local Spark session."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from ingestion import transform
from ingestion.registry import Column, Source, get_source

TELECOM = get_source("telecom_subscriptions")


def raw_frame(spark, header, rows, corrupt=None):
    """Rows as the reader yields them: positional string fields plus _corrupt_record."""
    corrupt = corrupt or [None] * len(rows)
    data = [(*row, bad) for row, bad in zip(rows, corrupt, strict=True)]
    return spark.createDataFrame(data, transform.raw_read_schema(len(header)))


def test_header_mapping_is_by_name_not_position():
    header = ["planType", "CUSTOMERID", "Extra", "FirstName"]
    mapping, missing, extra = transform.header_mapping(TELECOM, header)
    assert mapping == {"CustomerID": "_c1", "FirstName": "_c3", "PlanType": "_c0"}
    assert missing == ["LastName", "MonthlyCharge", "SubscriptionDate"]
    assert extra == ["Extra"]


@pytest.mark.parametrize("read_order", [False, True], ids=["plain", "with-read-order"])
def test_typing_sends_each_bad_value_to_quarantine_with_its_reason(spark, read_order):
    header = ["CustomerID", "FirstName", "LastName", "PlanType", "MonthlyCharge", "SubscriptionDate"]
    rows = [
        ("1101", "Aaron", "Smith", "Postpaid", "50", "2022-01-01"),
        (" 1102 ", "Abby", "Jo", "Prepaid", "29.99", "2022-02-15"),
        ("1103", "Adam", "W", "Postpaid", "55.5.5", "2022-04-10"),
        ("11.5", "Al", "B", "Prepaid", "28", "2022-05-05"),
        (None, "No", "Id", "Prepaid", "28", "2022-05-05"),
        ("1106", "Bad", "Date", "Prepaid", "28", "2022-02-30"),
        ("1107", "Empty", "Charge", "Prepaid", None, None),
        ("   ", "Blank", "Id", "Prepaid", "28", "2022-05-05"),
        ("\t1109\t", "Tab", "Padded", "Prepaid", " 12.5\t", " 2022-05-05 "),
    ]
    mapping, _, _ = transform.header_mapping(TELECOM, header)
    typed = transform.with_typed_columns(raw_frame(spark, header, rows), TELECOM, mapping, read_order)
    result = {r["FirstName"]: r for r in typed.collect()}
    assert all(r[transform.HAS_ERRORS] == bool(r[transform.ERRORS]) for r in result.values())

    assert result["Aaron"]["CustomerID"] == 1101 and result["Aaron"][transform.ERRORS] == []
    assert result["Aaron"]["SubscriptionDate"] == dt.date(2022, 1, 1)
    assert result["Abby"]["CustomerID"] == 1102 and result["Abby"]["MonthlyCharge"] == Decimal("29.99")
    assert result["Adam"][transform.ERRORS] == ["MonthlyCharge: cannot parse '55.5.5' as decimal(10,2)"]
    assert result["Al"][transform.ERRORS] == ["CustomerID: cannot parse '11.5' as bigint"]  # never truncated to 11
    assert result["No"][transform.ERRORS] == ["CustomerID: required value is missing"]
    assert result["Bad"][transform.ERRORS] == ["SubscriptionDate: cannot parse '2022-02-30' as date"]
    assert result["Empty"][transform.ERRORS] == []  # empty optional values are null, not errors
    assert result["Empty"]["MonthlyCharge"] is None
    assert result["Blank"][transform.ERRORS] == ["CustomerID: required value is missing"]
    assert result["Tab"][transform.ERRORS] == [] and result["Tab"]["CustomerID"] == 1109
    assert result["Tab"]["MonthlyCharge"] == Decimal("12.5")
    assert result["Tab"]["SubscriptionDate"] == dt.date(2022, 5, 5)

    valid, bad = transform.split_quarantine(typed)
    assert sorted(r["FirstName"] for r in valid.collect()) == ["Aaron", "Abby", "Empty", "Tab"]
    assert sorted(r["FirstName"] for r in bad.collect()) == ["Adam", "Al", "Bad", "Blank", "No"]


def test_the_quarantine_split_types_each_value_once(spark):
    # The filter on _has_errors must test the typed columns, not repeat the parse for every row: the
    # typing projection carries _read_order, which the optimizer cannot push a filter through.
    header = ["CustomerID", "FirstName", "LastName", "PlanType", "MonthlyCharge", "SubscriptionDate"]
    mapping, _, _ = transform.header_mapping(TELECOM, header)
    frame = raw_frame(spark, header, [("1", "A", "B", "Prepaid", "2.5", "2022-01-01")])
    for part in transform.split_quarantine(transform.with_typed_columns(frame, TELECOM, mapping, read_order=True)):
        # As ingest reads it: the record number is computed from _read_order.
        read = part.select("CustomerID", "MonthlyCharge", "SubscriptionDate", transform.READ_ORDER)
        optimized = read._jdf.queryExecution().optimizedPlan().toString()
        assert optimized.count("RLIKE(") == 2  # CustomerID and MonthlyCharge, once each
        assert optimized.count("gettimestamp(") == 1  # SubscriptionDate


def test_malformed_record_and_missing_required_column(spark):
    header = ["FirstName", "PlanType"]
    mapping, missing, _ = transform.header_mapping(TELECOM, header)
    frame = raw_frame(spark, header, [("A", "Prepaid"), ("B", None)], corrupt=[None, "B"])
    errors = [
        r[transform.ERRORS]
        for r in transform.with_typed_columns(frame, TELECOM, mapping).orderBy("FirstName").collect()
    ]
    assert "CustomerID" in missing
    assert errors[0] == ["CustomerID: required column is missing from the header"]
    assert errors[1] == [
        "malformed CSV record (field count or quoting)",
        "CustomerID: required column is missing from the header",
    ]


def test_timestamps_try_each_format_in_order(spark):
    source = Source(
        name="t",
        domain="t",
        pattern="t/*.csv",
        columns=(Column("at", "timestamp", formats=("M/d/yyyy H:mm", "yyyy-MM-dd'T'HH:mm:ssX")),),
    )
    frame = raw_frame(spark, ["at"], [("1/1/2023 9:05",), ("2023-01-01T09:05:00Z",), ("yesterday",)])
    rows = transform.with_typed_columns(frame, source, {"at": "_c0"}).collect()
    assert [r["at"] for r in rows[:2]] == [dt.datetime(2023, 1, 1, 9, 5)] * 2
    assert rows[2][transform.ERRORS] == ["at: cannot parse 'yesterday' as timestamp"]
    assert [r[transform.HAS_ERRORS] for r in rows] == [False, False, True]


def test_raw_record_keeps_the_malformed_line_or_the_fields(spark):
    header = ["a", "b"]
    frame = raw_frame(spark, header, [("1", "x"), ("2", None)], corrupt=[None, "2,x,extra"])
    got = [r[0] for r in frame.select(transform.raw_record(2, header)).collect()]
    assert json.loads(got[0]) == {"a": "1", "b": "x"}
    assert got[1] == "2,x,extra"


def test_normalize_path_decodes_spark_uris(spark):
    frame = spark.createDataFrame([("file:/tmp/a%20b/f+1%20é.csv",), ("file:///tmp/100%25.csv",)], "uri string")
    got = [r[0] for r in frame.select(transform.normalize_path(F.col("uri"))).collect()]
    assert got == ["/tmp/a b/f+1 é.csv", "/tmp/100%.csv"]


def test_record_numbers_follow_file_order(spark):
    # One task reads /b, then the second block of /a (from byte 100), then /a's first block: the numbers
    # follow each file's own order, counted across its blocks, whatever order the task met them in.
    rows = [("/b", 0, "b1"), ("/a", 100, "a3"), ("/a", 100, "a4"), ("/a", 0, "a1"), ("/a", 0, "a2")]
    frame = transform.with_read_order(
        spark.createDataFrame(rows, f"{transform.URI} string, {transform.BLOCK_START} long, v string").coalesce(1)
    )
    counts = [
        (r[transform.URI], r[transform.BLOCK_START], r["_first_read"], r["_block_rows"])
        for r in transform.block_counts(frame).collect()
    ]
    offsets = spark.createDataFrame(
        transform.block_offsets(counts),
        f"{transform.URI} string, {transform.BLOCK_START} long, _first_read long, _rows_before long",
    )
    numbered = transform.with_record_number(frame.join(offsets, [transform.URI, transform.BLOCK_START]))
    got = {(r[transform.URI], r["v"]): r["_record_number"] for r in numbered.collect()}
    assert got == {("/a", "a1"): 1, ("/a", "a2"): 2, ("/a", "a3"): 3, ("/a", "a4"): 4, ("/b", "b1"): 1}


def test_registry_rejects_unknown_types_and_bad_keys():
    with pytest.raises(ValueError, match="unsupported type"):
        Column("x", "varchar")
    with pytest.raises(ValueError, match="primary key"):
        dataclasses.replace(TELECOM, primary_key=("nope",))


def test_extra_column_names_are_cleaned_and_never_collide():
    source = get_source("telecom_subscriptions")
    header = ["CustomerID", "Loyalty Tier", "_batch_id", "2nd phone", "region", "REGION", "", "PlanType"]
    assert transform.extra_columns(source, header) == {
        "loyalty_tier": 1,
        "batch_id": 2,
        "c_2nd_phone": 3,
        "region": 4,
        "region_2": 5,
    }


def test_a_reason_never_shows_the_value_of_a_pii_column(spark):
    source = dataclasses.replace(
        TELECOM, columns=(Column("CustomerID", "bigint"), Column("Phone", "bigint", description="", pii=True))
    )
    header = ["CustomerID", "Phone"]
    mapping, _, _ = transform.header_mapping(source, header)
    typed = transform.with_typed_columns(raw_frame(spark, header, [("x1", "+1 555 0100")]), source, mapping)
    assert typed.first()[transform.ERRORS] == [
        "CustomerID: cannot parse 'x1' as bigint",
        "Phone: cannot parse the value as bigint (PII: shown only in raw_record)",
    ]
