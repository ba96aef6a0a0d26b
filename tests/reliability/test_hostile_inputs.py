"""The hostile input matrix: every case lands in ONE landing zone and ONE ingestion batch (real
Spark, Iceberg and Hive metastore, in-process), then each case's documented outcome is asserted,
and the conservation law is checked two ways: by ``lakehouse.audit`` against the ledger, and
against an independent count of the data records of each file with Python's csv module.

The outcomes (also in the README, "Reliability"):
  ingested    rows go to bronze; rows that cannot be typed go to bronze.quarantine with a reason
  rejected    the whole file is unusable; the ledger records why; no row of it anywhere
  ignored     not a delivery (temporary name, symlink leaving the landing root)
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import random
import uuid

import pytest
from pyspark.sql import functions as F

from ingestion.errors import IngestAborted
from ingestion.ingest import ingest
from ingestion.ledger import FILES
from ingestion.registry import QUARANTINE_TABLE, get_source
from lakehouse.audit import audit

HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate"
GOOD = ["1,Ann,Lee,Prepaid,20.50,2022-01-01", "2,Bob,Ray,Postpaid,30,2022-02-01", "3,Cy,Day,Prepaid,15.25,2022-03-01"]
HUGE = 10 * 1024 * 1024


def text(*lines: str, eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


ACCOUNTS_HEADER = "account_id,company_name,company_address,contact_person,contact_phone,gender,joining_date"

# name -> (bytes, expected status, rows to bronze, rows to quarantine, words the message/reason must hold)
CASES: dict[str, tuple[bytes, str, int, int, tuple[str, ...]]] = {
    "clean.csv": (text(HEADER, *GOOD), "ingested", 3, 0, ()),
    "malformed quoting.csv": (
        text(HEADER, GOOD[0], '7,"Eve,Lee,Prepaid,20,2022-01-01', '8,Fay,"Q"x,Prepaid,20,2022-01-01', GOOD[1]),
        "ingested",
        3,
        1,
        ("malformed CSV record",),
    ),
    "too many fields.csv": (text(HEADER, GOOD[0], "9,Gus,Lee,Prepaid,20,2022-01-01,extra"), "ingested", 1, 1, ()),
    "wrong delimiter.csv": (
        text(HEADER.replace(",", ";"), GOOD[0].replace(",", ";")),
        "rejected",
        0,
        0,
        ("delimiter",),
    ),
    "bom.csv": (b"\xef\xbb\xbf" + text(HEADER, *GOOD), "ingested", 3, 0, ()),
    "crlf.csv": (text(HEADER, *GOOD, eol="\r\n"), "ingested", 3, 0, ()),
    "no header.csv": (text(*GOOD), "rejected", 0, 0, ("matches none",)),
    "reordered.csv": (
        text(
            "SubscriptionDate,PlanType,LastName,FirstName,MonthlyCharge,CustomerID", "2022-05-05,Prepaid,Ro,Al,9.99,11"
        ),
        "ingested",
        1,
        0,
        (),
    ),
    "renamed key.csv": (text(HEADER.replace("CustomerID", "Customer_ID"), GOOD[0]), "rejected", 0, 0, ("CustomerID",)),
    "renamed column.csv": (
        text(HEADER.replace("PlanType", "Plan"), GOOD[0]),
        "ingested",
        1,
        0,
        ("missing from header (null): PlanType", "extra columns kept", "plan"),
    ),
    "extra and missing.csv": (
        text(
            "CustomerID,FirstName,LastName,PlanType,SubscriptionDate,Referrer Email", "12,Di,Ox,Prepaid,2022-01-01,x@y"
        ),
        "ingested",
        1,
        0,
        ("missing from header (null): MonthlyCharge", "referrer_email"),
    ),
    "zero bytes.csv": (b"", "ingested", 0, 0, ("empty file",)),
    "blank lines only.csv": (b"\n \n\n", "rejected", 0, 0, ("empty",)),
    "header only.csv": (text(HEADER), "ingested", 0, 0, ()),
    "binary garbage.csv": (bytes(random.Random(7).randrange(256) for _ in range(4096)), "rejected", 0, 0, ()),
    "latin1.csv": (
        text(HEADER, GOOD[0]) + "4,José,Peña,Prepaid,10,2022-01-01\n".encode("latin-1"),
        "rejected",
        0,
        0,
        ("not valid UTF-8", "line 3"),
    ),
    "one enormous field.csv": (
        text(HEADER, f"13,{'x' * HUGE},Big,Prepaid,10,2022-01-01", GOOD[0]),
        "ingested",
        2,
        0,
        (),
    ),
    "gzipped.csv.gz": (gz(text(HEADER, *GOOD)), "ingested", 3, 0, ()),
    "truncated.csv.gz": (gz(text(HEADER, *GOOD * 50))[:-40], "rejected", 0, 0, ("gzip",)),
    "wrong types.csv": (
        text(
            HEADER,
            GOOD[0],
            "14,Hal,Lee,Prepaid,abc,2022-01-01",
            "x15,Ida,Lee,Prepaid,10,2022-01-01",
            "16,Jo,Lee,Prepaid,10,2022-13-45",
            ",Kim,Lee,Prepaid,10,2022-01-01",
        ),
        "ingested",
        1,
        4,
        (
            "MonthlyCharge: cannot parse 'abc'",
            "CustomerID: cannot parse 'x15'",
            "SubscriptionDate: cannot parse",
            "CustomerID: required value is missing",
        ),
    ),
    "jour d'été + 100% données.csv": (text(HEADER, GOOD[2]), "ingested", 1, 0, ()),
    "copy of clean.csv": (text(HEADER, *GOOD), "duplicate", 0, 0, ("same content as",)),
}
ACCOUNT_CASES = {
    "accounts ok.csv": (
        text(ACCOUNTS_HEADER, '1,Acme,"1 Road\nTown",Ann,555,F,1/2/2020', '2,Bolt,"2 Street\nCity",Bob,556,M,3/4/2021'),
        "ingested",
        2,
        0,
        (),
    ),
    "accounts unclosed quote.csv": (
        text(
            ACCOUNTS_HEADER,
            '1,Acme,"1 Road\nTown",Ann,555,F,1/2/2020',
            '2,Bolt,"2 Street\nCity",Bob,556,M,3/4/2021',
            '3,Cog,"3 Lane',
            "Ville,Cy,557,F,5/6/2022",
        ),
        "rejected",
        0,
        0,
        ("line 6", "never closes"),
    ),
}
NOT_DELIVERIES = ["upload.csv.tmp", "upload.csv.part", ".hidden.csv", "_COPYING_.csv"]


def data_records(data: bytes, name: str, multiline: bool) -> int:
    """The number of data records in a delivered file, counted independently of Spark: one per
    non-blank line after the header, or, for sources whose quoted fields span lines, per CSV record."""
    raw = (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8-sig")
    if not multiline:
        return sum(1 for line in raw.splitlines()[1:] if line.strip())
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    return sum(1 for row in rows[1:] if row)


@pytest.fixture(scope="module")
def outcome(spark, lakehouse_settings, tmp_path_factory):
    landing = tmp_path_factory.mktemp("hostile-landing")
    outside = tmp_path_factory.mktemp("outside") / "secret.csv"
    outside.write_bytes(text(HEADER, *GOOD))
    tag = uuid.uuid4().hex[:8]
    subs = dataclasses.replace(
        get_source("telecom_subscriptions"), name=f"h_{tag}", pattern=f"h_{tag}/**/*.csv", file_date=None
    )
    accounts = dataclasses.replace(get_source("invoices_accounts"), name=f"a_{tag}", pattern=f"a_{tag}/*.csv")
    for source, cases in ((subs, CASES), (accounts, ACCOUNT_CASES)):
        (landing / source.name).mkdir()
        for name, (data, *_) in cases.items():
            (landing / source.name / name).write_bytes(data)
    for name in NOT_DELIVERIES:
        (landing / subs.name / name).write_bytes(text(HEADER, *GOOD))
    os.symlink(outside, landing / subs.name / "link to outside.csv")
    settings = dataclasses.replace(lakehouse_settings, landing=landing)
    report = ingest(spark, settings, [subs, accounts])
    return spark, settings, subs, accounts, report


ALL = [(n, c, "subs") for n, c in CASES.items()] + [(n, c, "accounts") for n, c in ACCOUNT_CASES.items()]


@pytest.mark.parametrize(("name", "case", "which"), ALL, ids=[n for n, _, _ in ALL])
def test_each_case_has_its_documented_outcome(outcome, name, case, which):
    spark, _, subs, accounts, report = outcome
    source = subs if which == "subs" else accounts
    data, status, to_bronze, to_quarantine, words = case
    [record] = [r for r in report.files if r.file_path == f"{source.name}/{name}"]
    assert record.status == status, record.message
    in_bronze = spark.table(source.table).filter(F.col("_source_file") == record.file_path).count()
    quarantined = spark.table(QUARANTINE_TABLE).filter(F.col("_source_file") == record.file_path)
    reasons = [r.reason for r in quarantined.orderBy("_record_number").collect()]
    assert (in_bronze, len(reasons)) == (to_bronze, to_quarantine)
    assert (record.rows_ingested, record.rows_quarantined) == (to_bronze, to_quarantine)
    said = " | ".join([record.message or "", *reasons])
    assert all(word in said for word in words), said
    # conservation, counted independently of Spark: every data record is in bronze or quarantine
    if status == "ingested":
        assert in_bronze + len(reasons) == data_records(data, name, source.csv.multiline)


def test_values_are_matched_by_header_name_and_cleaned(outcome):
    spark, _, subs, _, _ = outcome

    def row(file: str, key: int):
        return spark.sql(
            f"select * from {subs.table} where _source_file = '{subs.name}/{file}' and CustomerID = {key}"
        ).first()

    reordered = row("reordered.csv", 11)
    assert (reordered.FirstName, reordered.LastName, str(reordered.MonthlyCharge)) == ("Al", "Ro", "9.99")
    assert str(reordered.SubscriptionDate) == "2022-05-05"
    crlf = spark.sql(f"select * from {subs.table} where _source_file = '{subs.name}/crlf.csv'").collect()
    assert all("\r" not in (r.PlanType + r.LastName) for r in crlf) and len(crlf) == 3
    assert row("bom.csv", 1).FirstName == "Ann"  # the BOM did not eat the first column's name
    assert row("renamed column.csv", 1).PlanType is None and row("renamed column.csv", 1).plan == "Prepaid"
    assert row("extra and missing.csv", 12).referrer_email == "x@y"
    assert len(row("one enormous field.csv", 13).FirstName) == HUGE
    # text after a closing quote: the field is kept as delivered (one-line records cannot run on)
    assert row("malformed quoting.csv", 8).LastName == '"Q"x'


def test_not_deliveries_are_ignored_and_reported(outcome):
    _, _, subs, _, report = outcome
    seen = {r.file_path.rsplit("/", 1)[1] for r in report.files}
    assert not seen & {*NOT_DELIVERIES, "link to outside.csv"}
    assert report.outside == [f"{subs.name}/link to outside.csv"]


def test_conservation_audit_holds_and_catches_a_lost_row(outcome):
    spark, _, subs, accounts, _ = outcome
    check = audit(spark, [subs, accounts])
    assert check.ok, check.breaks
    assert check.rows_checked == sum(c[2] + c[3] for c in [*CASES.values(), *ACCOUNT_CASES.values()])
    # the audit is not a tautology: delete one bronze row and it names the file
    spark.sql(f"delete from {subs.table} where _source_file = '{subs.name}/clean.csv' and CustomerID = 2")
    broken = audit(spark, [subs, accounts])
    assert [str(b) for b in broken.breaks] == [
        f"{subs.name}: {subs.name}/clean.csv: ledger says 3 row(s), found 2 in bronze + 0 in quarantine"
    ]


def test_a_file_changing_during_the_batch_aborts_it_and_the_rerun_is_exact(
    spark, lakehouse_settings, tmp_path, monkeypatch
):
    """A writer still appending (no temp name, no settle time): the batch that read the first half
    is rolled back, nothing is committed, and the next run ingests the finished file once."""
    from ingestion import ingest as ingest_module

    source = dataclasses.replace(get_source("telecom_subscriptions"), name=f"w_{uuid.uuid4().hex[:8]}", file_date=None)
    source = dataclasses.replace(source, pattern=f"{source.name}/*.csv")
    path = tmp_path / source.name / "growing.csv"
    path.parent.mkdir()
    path.write_bytes(text(HEADER, GOOD[0]))
    settings = dataclasses.replace(lakehouse_settings, landing=tmp_path)
    original = ingest_module.write_header_group

    def write_then_grow(*args, **kwargs):
        written = original(*args, **kwargs)
        with open(path, "ab") as handle:
            handle.write(text(GOOD[1]))
        return written

    monkeypatch.setattr(ingest_module, "write_header_group", write_then_grow)
    with pytest.raises(IngestAborted, match="growing.csv changed while being ingested"):
        ingest(spark, settings, [source])
    assert spark.sql(f"select count(*) from {source.table}").first()[0] == 0
    assert spark.sql(f"select count(*) from {FILES} where source = '{source.name}'").first()[0] == 0

    monkeypatch.setattr(ingest_module, "write_header_group", original)
    report = ingest(spark, settings, [source])
    assert report.sources[source.name].rows_ingested == 2
    assert spark.sql(f"select count(*) from {source.table}").first()[0] == 2
    assert audit(spark, [source]).ok


def test_thousands_of_small_files_in_one_run(spark, lakehouse_settings, tmp_path):
    count = 5000 if os.environ.get("LAKEHOUSE_SOAK") else 1500
    source = dataclasses.replace(get_source("telecom_subscriptions"), name=f"m_{uuid.uuid4().hex[:8]}", file_date=None)
    source = dataclasses.replace(source, pattern=f"{source.name}/**/*.csv")
    for i in range(count):
        folder = tmp_path / source.name / f"part-{i // 500}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{i:05d}.csv").write_bytes(text(HEADER, f"{i},N{i},L{i},Prepaid,1,2022-01-01", f"x{i},,,,,"))
    settings = dataclasses.replace(lakehouse_settings, landing=tmp_path)
    report = ingest(spark, settings, [source])
    assert report.sources[source.name].files_ingested == count
    assert (report.sources[source.name].rows_ingested, report.rows_quarantined) == (count, count)
    numbers = spark.sql(
        f"select count(distinct _source_file), min(_record_number), max(_record_number) from {source.table}"
    ).first()
    assert tuple(numbers) == (count, 1, 1)
    assert audit(spark, [source]).ok
    assert ingest(spark, settings, [source]).batch_id is None  # and the re-run finds nothing new
