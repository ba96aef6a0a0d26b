"""An ``s3://`` landing against the local S3 stand-in (moto server): discovery, identity, archival, and one
real ingestion (Spark, Iceberg, the ledger) reading its files through boto3. Nothing of ours is mocked."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingestion.config import ConfigError, load_settings
from ingestion.files import file_sha256, scan_file
from ingestion.ingest import ingest
from ingestion.landing_s3 import S3Landing, full_object_sha256, object_sha256, s3_client
from ingestion.ledger import FILES
from ingestion.registry import get_source

BUCKET = "lakehouse-test"
LANDING = f"s3://{BUCKET}/team/landing/"
HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate"


@pytest.fixture
def s3(aws_env):
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def source():
    name = f"s3_{uuid.uuid4().hex[:8]}"
    return dataclasses.replace(
        get_source("telecom_subscriptions"), name=name, pattern=f"{name}/customer_subscription_*.csv"
    )


def csv_bytes(day: int, count: int, start: int = 1) -> bytes:
    lines = [
        f"{day * 1000 + i},First{i},Last{i},{'Prepaid' if i % 2 else 'Postpaid'},{20 + i},2022-01-01"
        for i in range(start, start + count)
    ]
    return "\n".join([HEADER, *lines]).encode()


def put(client, rel_path: str, body: bytes, **extra) -> str:
    key = f"team/landing/{rel_path}"
    client.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
    return key


def keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def test_discovery_lists_every_page_and_applies_the_local_rules(s3, source, tmp_path):
    names = [f"{source.name}/customer_subscription_2023_08_{1 + i % 28:02d}_p{i:04d}.csv" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:  # > 1000 keys: S3 answers at most 1000 per page
        list(pool.map(lambda rel: put(s3, rel, b"x"), names))
    put(s3, f"{source.name}/customer_subscription_2023_08_01.csv.tmp", b"x")  # still uploading
    put(s3, f"{source.name}/_staging/customer_subscription_2023_08_01.csv", b"x")  # hidden folder
    put(s3, "elsewhere/notes.txt", b"x")  # no source claims it
    s3.put_object(Bucket=BUCKET, Key="team/landing-other/x.csv", Body=b"x")  # a sibling prefix, not ours
    s3.put_object(Bucket=BUCKET, Key=f"team/landing/{source.name}/", Body=b"")  # a console "folder"

    found = S3Landing(LANDING, cache=tmp_path / "cache").discover([source])

    assert [f.rel_path for f in found.files] == sorted(names)
    assert found.unmatched == ["elsewhere/notes.txt"]
    first = found.files[0]
    assert first.source == source.name and first.size == 1
    assert first.abs_path == tmp_path / "cache" / first.rel_path and first.uri is None
    glue = S3Landing(LANDING, cache=tmp_path / "glue", spark_reads_s3=True).discover([source])
    assert glue.files[0].uri == f"s3://{BUCKET}/team/landing/{first.rel_path}"

    later = S3Landing(LANDING, cache=tmp_path / "cache").discover([source], settle_seconds=3600)
    assert later.files == [] and len(later.unsettled) == 1005


def test_identity_is_the_local_sha256_streamed_or_from_the_s3_checksum(s3, source, tmp_path):
    body = csv_bytes(21, 50)
    local = tmp_path / "local.csv"
    local.write_bytes(body)
    plain = put(s3, "a.csv", body)
    checked = put(s3, "b.csv", body, ChecksumAlgorithm="SHA256")

    assert full_object_sha256(s3.head_object(Bucket=BUCKET, Key=plain, ChecksumMode="ENABLED")) is None
    assert full_object_sha256(s3.head_object(Bucket=BUCKET, Key=checked, ChecksumMode="ENABLED")) == file_sha256(local)
    calls: list[str] = []  # the S3 operations boto3 sends (observed, not changed)
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    assert object_sha256(s3, BUCKET, checked) == file_sha256(local)
    assert calls == ["HeadObject"]  # S3's checksum: the object is not downloaded
    assert object_sha256(s3, BUCKET, plain) == file_sha256(local)
    assert calls == ["HeadObject", "HeadObject", "GetObject"]  # no checksum: hashed while streaming
    assert object_sha256(s3, BUCKET, "team/landing/missing.csv") is None
    assert full_object_sha256({"ChecksumSHA256": "abc=-3"}) is None  # multipart: a checksum of checksums

    put(s3, f"{source.name}/customer_subscription_2023_08_21.csv", body)
    put(s3, f"{source.name}/customer_subscription_2023_08_22.csv", b"id\n\xe9t\xe9\n", ChecksumAlgorithm="SHA256")
    landing = S3Landing(LANDING, cache=tmp_path / "cache")
    good, latin1 = landing.discover([source]).files
    assert landing.scan(good, "UTF-8") == scan_file(local)
    assert good.abs_path.read_bytes() == body
    assert landing.restat(good) == good.key
    bad = landing.scan(latin1, "UTF-8")
    assert bad.sha256 == hashlib.sha256(b"id\n\xe9t\xe9\n").hexdigest()
    assert bad.problem is not None and bad.problem.startswith("not valid UTF-8 text at line 2")


def test_archive_copies_then_deletes_finishes_an_interrupted_move_and_is_idempotent(s3, tmp_path):
    landing = S3Landing(LANDING, cache=tmp_path / "cache")
    body = csv_bytes(21, 3)
    digest = hashlib.sha256(body).hexdigest()
    put(s3, "events/a.csv", body)

    landing.archive("events/a.csv", digest)
    assert keys(s3, "team/") == ["team/archive/events/a.csv"]
    assert object_sha256(s3, BUCKET, "team/archive/events/a.csv") == digest
    landing.archive("events/a.csv", digest)  # again: nothing to do, nothing breaks
    assert keys(s3, "team/") == ["team/archive/events/a.csv"]

    # A run stopped between the copy and the delete: the next one only deletes.
    put(s3, "events/b.csv", body + b"\n")
    s3.copy_object(Bucket=BUCKET, Key="team/archive/events/b.csv", CopySource=f"{BUCKET}/team/landing/events/b.csv")
    copied_at = s3.head_object(Bucket=BUCKET, Key="team/archive/events/b.csv")["ETag"]
    landing.archive("events/b.csv", hashlib.sha256(body + b"\n").hexdigest())
    assert keys(s3, "team/") == ["team/archive/events/a.csv", "team/archive/events/b.csv"]
    assert s3.head_object(Bucket=BUCKET, Key="team/archive/events/b.csv")["ETag"] == copied_at

    # Another file under a name the archive already holds: both kept.
    other = csv_bytes(22, 1)
    put(s3, "events/a.csv", other)
    other_digest = hashlib.sha256(other).hexdigest()
    landing.archive("events/a.csv", other_digest)
    renamed = f"team/archive/events/a.csv.{other_digest[:12]}"
    assert keys(s3, "team/") == ["team/archive/events/a.csv", renamed, "team/archive/events/b.csv"]
    assert object_sha256(s3, BUCKET, "team/archive/events/a.csv") == digest
    assert object_sha256(s3, BUCKET, renamed) == other_digest


def test_a_bucket_root_is_not_a_landing_folder(tmp_path):
    with pytest.raises(ConfigError, match="must be a folder in its bucket"):
        S3Landing(f"s3://{BUCKET}/", cache=tmp_path, client=object())


def test_settings_read_an_s3_landing_into_a_cache_under_home(tmp_path):
    settings = load_settings(home=tmp_path / "home", landing=LANDING, env={})
    assert settings.landing_uri == LANDING
    assert settings.landing == (tmp_path / "home" / "landing-cache").resolve()
    assert load_settings(home=tmp_path, env={"LAKEHOUSE_LANDING": LANDING}).landing_uri == LANDING
    assert load_settings(home=tmp_path, landing=tmp_path / "l", env={}).landing_uri is None
    for wrong in ("s3://", f"s3://{BUCKET}", f"s3://{BUCKET}/", "s3:///landing/"):
        with pytest.raises(ConfigError, match="an S3 landing is a folder in a bucket"):
            load_settings(home=tmp_path, landing=wrong, env={})


def count(spark, table: str, where: str = "true") -> int:
    return spark.sql(f"select count(*) from {table} where {where}").first()[0]


def test_ingestion_from_an_s3_landing_is_exactly_once(spark, lakehouse_settings, s3, source, tmp_path, monkeypatch):
    """One real run: Spark and Iceberg as locally, the files read from S3 through boto3. It stops after the
    ledger commit, before archiving (as the local crash tests do), with one move half done."""
    import ingestion.ingest as ingest_module

    source = dataclasses.replace(source, archive=True)
    settings = dataclasses.replace(lakehouse_settings, landing=tmp_path / "cache", landing_uri=LANDING)
    folder = source.name
    put(s3, f"{folder}/customer_subscription_2023_08_21.csv", csv_bytes(21, 20), ChecksumAlgorithm="SHA256")
    put(s3, f"{folder}/customer_subscription_2023_08_22.csv", csv_bytes(22, 10) + b"\n23,Bad,Row,Prepaid,x,2022")
    put(s3, f"{folder}/customer_subscription_2023_08_23.csv", csv_bytes(21, 20))  # 21st's bytes, renamed
    put(s3, f"{folder}/customer_subscription_2023_08_24.csv", b"\x00\x01binary")  # rejected: stays

    with monkeypatch.context() as crash:
        crash.setattr(ingest_module, "archive_committed", lambda *args: [])  # stops right after the commit
        report = ingest(spark, settings, [source])  # the landing comes from settings.landing_uri
    landed = f"team/landing/{folder}/customer_subscription_2023_08_21.csv"
    s3.copy_object(Bucket=BUCKET, Key=landed.replace("landing", "archive", 1), CopySource=f"{BUCKET}/{landed}")

    status = {r.file_path.rsplit("_", 1)[1]: (r.status, r.rows_ingested, r.rows_quarantined) for r in report.files}
    assert status == {
        "21.csv": ("ingested", 20, 0),
        "22.csv": ("ingested", 10, 1),
        "23.csv": ("duplicate", 0, 0),
        "24.csv": ("rejected", 0, 0),
    }
    assert count(spark, source.table) == 30
    assert count(spark, source.table, "_file_date = date'2023-08-22'") == 10
    assert count(spark, "bronze.quarantine", f"source = '{source.name}'") == 1
    hashes = {
        r._source_file: r._file_hash
        for r in spark.table(source.table).select("_source_file", "_file_hash").distinct().collect()
    }
    assert hashes[f"{folder}/customer_subscription_2023_08_21.csv"] == hashlib.sha256(csv_bytes(21, 20)).hexdigest()
    ledger = spark.table(FILES).filter(f"source = '{source.name}'").collect()
    assert sorted((r.file_path.rsplit("_", 1)[1], r.status) for r in ledger) == [
        ("21.csv", "ingested"),
        ("22.csv", "ingested"),
        ("23.csv", "duplicate"),
        ("24.csv", "rejected"),
    ]
    assert {r.file_date for r in ledger if r.status == "ingested"} == {dt.date(2023, 8, 21), dt.date(2023, 8, 22)}
    assert len(keys(s3, "team/landing/")) == 4 and len(keys(s3, "team/archive/")) == 1

    # The next run ingests nothing and finishes the moves (21 only needs its delete); the rejected file stays.
    resumed = ingest(spark, settings, [source])
    assert resumed.batch_id is None and resumed.files == []
    assert sorted(p.rsplit("_", 1)[1] for p in resumed.archived) == ["21.csv", "22.csv", "23.csv"]
    assert keys(s3, "team/landing/") == [f"team/landing/{folder}/customer_subscription_2023_08_24.csv"]
    assert [k.rsplit("_", 1)[1] for k in keys(s3, "team/archive/")] == ["21.csv", "22.csv", "23.csv"]
    assert count(spark, source.table) == 30
    assert spark.table(FILES).filter(f"source = '{source.name}'").count() == 4
