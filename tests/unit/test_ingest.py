"""Ingestion against a real Spark + Iceberg + Hive metastore, in-process.

Each test registers a source of its own (a copy of the telecom schema under another name and
landing folder), so tests share one Spark session without sharing tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import uuid

import pytest

from ingestion.files import discover
from ingestion.ingest import QUARANTINE_RENAMED, BatchWriter, ensure_tables, ingest, plan_files
from ingestion.ledger import FILES, FileRecord, FileStatus, Ledger
from ingestion.registry import get_source

HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate"


@pytest.fixture
def source():
    name = f"t_{uuid.uuid4().hex[:8]}"
    return dataclasses.replace(
        get_source("telecom_subscriptions"), name=name, pattern=f"{name}/customer_subscription_*.csv"
    )


def write(landing, source, day, lines, header=HEADER, name=None):
    folder = landing / source.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"customer_subscription_2023_08_{day:02d}.csv")
    path.write_text("\n".join([header, *lines]) if header is not None else "\n".join(lines))
    return path


def rows(day, count, start=1):
    return [
        f"{day * 1000 + i},First{i},Last{i},{'Prepaid' if i % 2 else 'Postpaid'},{20 + i},2022-01-01"
        for i in range(start, start + count)
    ]


def count(spark, table, where="true"):
    return spark.sql(f"select count(*) from {table} where {where}").first()[0]


def test_each_file_once_rerun_noop_and_redelivery_skipped(spark, settings_for, source, tmp_path):
    settings = settings_for(tmp_path)
    write(tmp_path, source, 21, rows(21, 20))
    first = ingest(spark, settings, [source])
    assert first.sources[source.name].rows_ingested == 20
    assert count(spark, source.table) == 20

    again = ingest(spark, settings, [source])
    assert again.batch_id is None and count(spark, source.table) == 20

    copy = write(tmp_path, source, 24, rows(21, 20))  # same bytes, another name
    redelivered = ingest(spark, settings, [source])
    [record] = redelivered.files
    assert record.status == "duplicate"
    assert record.duplicate_of == f"{source.name}/customer_subscription_2023_08_21.csv"
    assert count(spark, source.table) == 20

    copy.write_text("\n".join([HEADER, *rows(24, 5)]))  # a corrected delivery under the same name
    corrected = ingest(spark, settings, [source])
    assert corrected.sources[source.name].rows_ingested == 5
    assert count(spark, source.table) == 25
    assert count(spark, source.table, "_file_date = date'2023-08-24'") == 5


def test_lineage_columns(spark, settings_for, source, tmp_path):
    settings = settings_for(tmp_path)
    write(tmp_path, source, 21, rows(21, 3))
    report = ingest(spark, settings, [source])
    got = spark.sql(
        f"select CustomerID, _source_file, _file_date, _record_number, _batch_id, _file_hash from {source.table} "
        "order by _record_number"
    ).collect()
    assert [r.CustomerID for r in got] == [21001, 21002, 21003]
    assert {r._source_file for r in got} == {f"{source.name}/customer_subscription_2023_08_21.csv"}
    assert {r._file_date for r in got} == {dt.date(2023, 8, 21)}
    assert [r._record_number for r in got] == [1, 2, 3]
    assert {r._batch_id for r in got} == {report.batch_id}
    assert {r._file_hash for r in got} == {report.files[0].file_hash}


def test_bad_rows_are_quarantined_and_every_row_is_accounted_for(spark, settings_for, source, tmp_path):
    settings = settings_for(tmp_path)
    lines = [
        "1,Ann,Lee,Prepaid,20,2022-01-01",
        "2,Bob,Ray,Prepaid,twenty,2022-01-01",
        "3,Cy,Dee,Prepaid,20",
        ",Dot,Eve,Prepaid,20,2022-01-01",
        '4,"Ed, Jr",Fay,Postpaid,45,2022-03-01',
    ]
    write(tmp_path, source, 21, lines)
    report = ingest(spark, settings, [source])
    [record] = report.files
    assert (record.rows_read, record.rows_ingested, record.rows_quarantined) == (5, 2, 3)
    assert count(spark, source.table) == 2
    quarantined = spark.sql(
        f"select _record_number, reason from bronze.quarantine where source = '{source.name}' order by _record_number"
    ).collect()
    assert [(q._record_number, q.reason) for q in quarantined] == [
        (2, "MonthlyCharge: cannot parse 'twenty' as decimal(10,2)"),
        (3, "malformed CSV record (field count or quoting)"),
        (4, "CustomerID: required value is missing"),
    ]
    assert spark.sql(f"select FirstName from {source.table} where CustomerID = 4").first()[0] == "Ed, Jr"


def test_unusable_files_are_rejected_with_a_reason_and_good_ones_still_load(spark, settings_for, source, tmp_path):
    settings = settings_for(tmp_path)
    write(tmp_path, source, 21, rows(21, 4))
    write(tmp_path, source, 22, [], header=None)  # zero bytes
    write(tmp_path, source, 23, [], header=HEADER)  # header only
    write(tmp_path, source, 25, ["1;a;b"], header="CustomerID;FirstName;LastName")  # wrong delimiter
    write(tmp_path, source, 26, ["Ann,Lee"], header="FirstName,LastName")  # no primary key column
    (tmp_path / source.name / "customer_subscription_2023_08_27.csv").write_bytes(b"\x00\x01\x02garbage")
    write(tmp_path, source, 0, rows(30, 1), name="customer_subscription_2023_02_30.csv")  # impossible date
    with gzip.open(tmp_path / source.name / "customer_subscription_2023_08_28.csv.gz", "wt") as handle:
        handle.write("\n".join([HEADER, *rows(28, 3)]))

    report = ingest(spark, settings, [source])
    by_name = {r.file_path.rsplit("/", 1)[1]: r for r in report.files}
    status = {name: (r.status, r.rows_ingested) for name, r in by_name.items()}
    assert status == {
        "customer_subscription_2023_08_21.csv": ("ingested", 4),
        "customer_subscription_2023_08_22.csv": ("ingested", 0),
        "customer_subscription_2023_08_23.csv": ("ingested", 0),
        "customer_subscription_2023_08_25.csv": ("rejected", 0),
        "customer_subscription_2023_08_26.csv": ("rejected", 0),
        "customer_subscription_2023_08_27.csv": ("rejected", 0),
        "customer_subscription_2023_02_30.csv": ("rejected", 0),
        "customer_subscription_2023_08_28.csv.gz": ("ingested", 3),
    }
    assert "wrong delimiter" in by_name["customer_subscription_2023_08_25.csv"].message
    assert "CustomerID" in by_name["customer_subscription_2023_08_26.csv"].message
    assert "binary" in by_name["customer_subscription_2023_08_27.csv"].message
    assert "not a date" in by_name["customer_subscription_2023_02_30.csv"].message
    assert count(spark, source.table) == 7
    assert count(spark, FILES, f"source = '{source.name}' and status = 'rejected'") == 4


def test_names_with_spaces_and_unicode(spark, settings_for, source, tmp_path):
    settings = settings_for(tmp_path)
    source = dataclasses.replace(source, pattern=f"{source.name}/**/*.csv", file_date=None)
    write(tmp_path, source, 0, rows(1, 2), name="jour d'été + 100%.csv")
    report = ingest(spark, settings, [source])
    assert report.sources[source.name].rows_ingested == 2
    assert spark.sql(f"select distinct _source_file from {source.table}").first()[0] == (
        f"{source.name}/jour d'été + 100%.csv"
    )


def test_interrupted_batch_is_rolled_back_then_ingested_exactly_once(spark, settings_for, source, tmp_path):
    """The process died after appending bronze rows but before the ledger commit."""
    settings = settings_for(tmp_path)
    write(tmp_path, source, 21, rows(21, 6) + ["x,bad,row,Prepaid,1,2022-01-01"])
    ledger = ensure_tables(spark, [source])
    [file] = discover(tmp_path, [source]).files
    record = FileRecord(
        source.name, file.rel_path, file.size, file.mtime_ms, "h", dt.date(2023, 8, 21), FileStatus.INGESTED
    )
    crashed_batch = ledger.next_batch_id()
    ledger.start(crashed_batch, "simulated crash")
    writer = BatchWriter(spark, crashed_batch, dt.datetime(2023, 8, 21))
    for header, group in plan_files(source, [file]).groups.items():
        written = writer.write_group(source, group, header, {file.rel_path: record})
    [(path, (rows_read, rows_quarantined, [example]))] = [
        (p, (w.rows_read, w.rows_quarantined, w.examples)) for p, w in written.items()
    ]
    assert (path, rows_read, rows_quarantined) == (file.rel_path, 7, 1) and example.startswith("record 7: ")
    assert count(spark, source.table, f"_batch_id = {crashed_batch}") == 6  # half-done work is visible...
    assert crashed_batch in Ledger(spark).orphaned_batches()

    report = ingest(spark, settings, [source])  # ...and the next run rolls it back first

    assert report.rolled_back == [crashed_batch]
    assert count(spark, source.table) == 6
    assert count(spark, source.table, f"_batch_id = {crashed_batch}") == 0
    assert count(spark, "bronze.quarantine", f"source = '{source.name}'") == 1
    assert crashed_batch not in Ledger(spark).orphaned_batches()


def test_archive_moves_only_committed_files_and_finishes_after_a_crash(
    spark, settings_for, source, tmp_path, monkeypatch
):
    import ingestion.ingest as ingest_module

    landing = tmp_path / "landing"
    settings = settings_for(landing)
    source = dataclasses.replace(source, archive=True)
    first = write(landing, source, 21, rows(21, 3))
    broken = write(landing, source, 22, ["a;b"], header="x;y")  # rejected: stays for the operator

    report = ingest(spark, settings, [source])
    archived = tmp_path / "archive" / source.name / first.name
    assert report.archived == [f"{source.name}/{first.name}"]
    assert archived.read_text() == "\n".join([HEADER, *rows(21, 3)])
    assert not first.exists() and broken.exists()

    # Crash between the ledger commit and the move: the file stays in landing, committed.
    second = write(landing, source, 23, rows(23, 2))
    real_archive = ingest_module.archive_committed
    monkeypatch.setattr(ingest_module, "archive_committed", lambda *args: [])
    ingest(spark, settings, [source])
    assert second.exists() and count(spark, source.table) == 5
    monkeypatch.setattr(ingest_module, "archive_committed", real_archive)

    resumed = ingest(spark, settings, [source])  # finishes the move, ingests nothing again
    assert resumed.batch_id is None
    assert resumed.archived == [f"{source.name}/{second.name}"]
    assert not second.exists() and (tmp_path / "archive" / source.name / second.name).exists()
    assert count(spark, source.table) == 5

    again = write(landing, source, 24, rows(21, 3))  # same content as the archived first file
    redelivered = ingest(spark, settings, [source])
    assert [r.status for r in redelivered.files] == ["duplicate"] and not again.exists()
    assert count(spark, source.table) == 5


def test_extra_columns_are_added_to_bronze_and_missing_ones_are_null(spark, settings_for, source, tmp_path):
    settings = settings_for(tmp_path)
    write(tmp_path, source, 21, rows(21, 2))
    ingest(spark, settings, [source])
    # Reordered, one optional column missing, two new ones (one with a name that needs cleaning).
    write(
        tmp_path,
        source,
        22,
        ["Gold,22001,Ann,Lee,Prepaid,25,EU", "Silver,22002,Bo,Ng,Postpaid,45,US"],
        header="Loyalty Tier,CustomerID,FirstName,LastName,PlanType,MonthlyCharge,region",
    )
    report = ingest(spark, settings, [source])
    [record] = report.files
    assert record.rows_ingested == 2
    assert "columns missing from header (null): SubscriptionDate" in record.message
    assert f"extra columns kept in {source.table} as strings: loyalty_tier, region" in record.message
    got = spark.sql(
        f"select CustomerID, PlanType, loyalty_tier, region, SubscriptionDate from {source.table} order by CustomerID"
    ).collect()
    assert [tuple(r) for r in got] == [
        (21001, "Prepaid", None, None, dt.date(2022, 1, 1)),
        (21002, "Postpaid", None, None, dt.date(2022, 1, 1)),
        (22001, "Prepaid", "Gold", "EU", None),
        (22002, "Postpaid", "Silver", "US", None),
    ]
    write(tmp_path, source, 23, rows(23, 1))  # the next file without them: null again
    ingest(spark, settings, [source])
    assert count(spark, source.table, "region is null") == 3


def test_a_header_less_file_is_rejected_without_repeating_its_first_line(source, tmp_path):
    from ingestion.files import LandingFile

    path = write(tmp_path, source, 22, ["8001,Zebediah,Quackenbush,Prepaid,25,2022-01-01"], header=None)
    file = LandingFile(source.name, f"{source.name}/{path.name}", path, path.stat().st_size, 0)
    plan = plan_files(source, [file])

    assert plan.groups == {}  # no JVM: rejected on its header
    [verdict] = plan.verdicts.values()
    assert verdict.status == FileStatus.REJECTED
    assert verdict.message == (
        "header matches none of the expected columns: its first line has 6 field(s), the registry expects 6 "
        "named CustomerID, FirstName, LastName, PlanType, MonthlyCharge, SubscriptionDate; is the header "
        "missing (the first line is data), or a wrong delimiter (expected ',') or a wrong file?"
    )
    assert not [value for value in ("8001", "Zebediah", "Quackenbush") if value in verdict.message]


def test_a_quarantine_with_the_old_lineage_names_is_migrated_once_and_keeps_its_rows(
    spark, settings_for, source, tmp_path
):
    """Homes created when the quarantine named its lineage ``source_file``, ``batch_id``, ...: the
    next command that opens the tables renames the columns to bronze's names, rows kept; again, nothing."""
    settings = settings_for(tmp_path)
    write(tmp_path, source, 21, rows(21, 1) + ["x,bad,row,Prepaid,1,2022-01-01"])
    ingest(spark, settings, [source])
    where = f"source = '{source.name}'"
    before = spark.sql(f"select * from bronze.quarantine where {where}").collect()
    for old, new in QUARANTINE_RENAMED.items():  # back to the names of an old home
        spark.sql(f"alter table bronze.quarantine rename column {new} to {old}")
    assert set(QUARANTINE_RENAMED) <= set(spark.table("bronze.quarantine").columns)

    ensure_tables(spark, [source])
    ensure_tables(spark, [source])  # idempotent

    columns = spark.table("bronze.quarantine").columns
    assert not set(QUARANTINE_RENAMED) & set(columns) and set(QUARANTINE_RENAMED.values()) <= set(columns)
    assert spark.sql(f"select * from bronze.quarantine where {where}").collect() == before
    assert count(spark, "bronze.quarantine", f"{where} and _source_file like '%2023_08_21.csv'") == 1
