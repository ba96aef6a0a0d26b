"""The Glue ingestion entry point: its arguments, its session settings, and one run of it against the S3
stand-in. The run uses the local Spark session (no Glue runtime here) and lets Spark read the downloaded
copies; everything else is the job's own code path, ``ingest.json`` included."""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid

import pytest

from ingestion import glue_job
from ingestion.config import ConfigError
from ingestion.landing_s3 import s3_client
from ingestion.registry import get_source
from ingestion.run_summary import SUMMARY_KEYS
from ingestion.spark import PLANNING, SEMANTICS, glue_spark_conf

BUCKET = "lakehouse-glue"
ARGS = [
    "ingest_job.py",
    "--JOB_NAME",
    "lakehouse-ingest",  # Glue passes arguments of its own
    "--landing_uri",
    f"s3://{BUCKET}/lh/landing/",
    "--warehouse_uri",
    f"s3://{BUCKET}/lh/warehouse/",
    "--run_id",
    "run-2026-11-27",
    "--report_uri",
    f"s3://{BUCKET}/lh/runs/",
]


def test_arguments_without_awsglue():
    assert "awsglue" not in sys.modules  # importing the job did not need the Glue runtime
    args = glue_job.parse_args(ARGS)
    assert args == glue_job.JobArgs(
        landing_uri=f"s3://{BUCKET}/lh/landing/",
        warehouse_uri=f"s3://{BUCKET}/lh/warehouse/",
        run_id="run-2026-11-27",
        report_uri=f"s3://{BUCKET}/lh/runs/",
    )
    picked = glue_job.parse_args([*ARGS, "--sources", "events_user_events, telecom_subscriptions", "--strict", "TRUE"])
    assert picked.sources == ("events_user_events", "telecom_subscriptions") and picked.strict is True
    with pytest.raises(ConfigError, match="unknown source"):
        glue_job.parse_args([*ARGS, "--sources", "nope"])
    with pytest.raises(ConfigError, match="--strict must be true or false"):
        glue_job.parse_args([*ARGS, "--strict", "yes"])
    with pytest.raises(ConfigError, match="not an S3 URI"):
        glue_job.parse_args([*ARGS, "--landing_uri", "/tmp/landing"])
    with pytest.raises(SystemExit):
        glue_job.parse_args(["ingest_job.py", "--landing_uri", "s3://b/x/"])  # the rest is required


def test_glue_session_settings_share_the_local_semantics():
    conf = glue_spark_conf(f"s3://{BUCKET}/lh/warehouse/")
    assert SEMANTICS.items() <= conf.items() and PLANNING.items() <= conf.items()
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.iceberg.spark.SparkSessionCatalog"
    assert conf["spark.sql.catalog.spark_catalog.catalog-impl"] == "org.apache.iceberg.aws.glue.GlueCatalog"
    assert conf["spark.sql.catalog.spark_catalog.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert conf["spark.sql.catalog.spark_catalog.warehouse"] == f"s3://{BUCKET}/lh/warehouse"
    assert not any("derby" in value.lower() or "hive" in key for key, value in conf.items())


def test_report_keys():
    assert glue_job.report_key(f"s3://{BUCKET}/lh/runs/", "r1", "ingest.json") == (BUCKET, "lh/runs/r1/ingest.json")
    assert glue_job.report_key(f"s3://{BUCKET}", "r1", "ingest.json") == (BUCKET, "r1/ingest.json")


def test_a_job_run_ingests_the_s3_landing_and_writes_ingest_json(spark, aws_env, tmp_path):
    name = f"g_{uuid.uuid4().hex[:8]}"
    source = dataclasses.replace(
        get_source("telecom_subscriptions"), name=name, pattern=f"{name}/customer_subscription_*.csv", archive=True
    )
    registry = (source,)  # a source of this test's own: its own tables
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    header = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate"
    good = f"{header}\n1,Ann,Lee,Prepaid,20,2022-01-01\n2,Bo,Ng,Postpaid,x,2022-01-01\n"
    client.put_object(Bucket=BUCKET, Key=f"lh/landing/{name}/customer_subscription_2023_08_21.csv", Body=good)
    client.put_object(Bucket=BUCKET, Key=f"lh/landing/{name}/customer_subscription_2023_08_22.csv", Body=b"\x00\x01")
    args = glue_job.parse_args([*ARGS, "--sources", name, "--strict", "true"], registry)

    payload = glue_job.run_ingestion(spark, args, tmp_path, client=client, spark_reads_s3=False, registry=registry)

    stored = json.loads(client.get_object(Bucket=BUCKET, Key="lh/runs/run-2026-11-27/ingest.json")["Body"].read())
    assert stored == json.loads(json.dumps(payload))
    assert stored["files"] == {"ingested": 1, "duplicate": 0, "rejected": 1}
    assert (stored["rows"], stored["quarantined"]) == (1, 1)
    assert stored["rejected"] == [
        {
            "source": name,
            "file": f"{name}/customer_subscription_2023_08_22.csv",
            "reason": stored["rejected"][0]["reason"],
        }
    ]
    assert "NUL bytes" in stored["rejected"][0]["reason"]
    assert stored["status"] == "failed" and stored["failed_step"] == "ingest"  # --strict
    assert stored["error"] == "--strict: 1 row(s) quarantined and 1 file(s) rejected"
    assert spark.table(source.table).count() == 1
    assert stored["archived"] == 1  # moved to lh/archive/ after the commit; the rejected file stays
    assert [k["Key"] for k in client.list_objects_v2(Bucket=BUCKET, Prefix="lh/")["Contents"]] == [
        f"lh/archive/{name}/customer_subscription_2023_08_21.csv",
        f"lh/landing/{name}/customer_subscription_2023_08_22.csv",
        "lh/runs/run-2026-11-27/ingest.json",
        "lh/runs/run-2026-11-27/summary.json",
    ]
    # The run stops here (the job fails), so the ingestion job leaves the run's summary.json too.
    final = json.loads(client.get_object(Bucket=BUCKET, Key="lh/runs/run-2026-11-27/summary.json")["Body"].read())
    assert tuple(final) == SUMMARY_KEYS
    assert final == {
        "run_id": "run-2026-11-27",
        "status": "failed",
        "files": {"ingested": 1, "duplicate": 0, "rejected": 1},
        "rows": 1,
        "quarantined": 1,
        "rejected": stored["rejected"],
        "models": 0,
        "tests": 0,
        "test_warnings": 0,
        "failed_step": "ingest",
        "error": "--strict: 1 row(s) quarantined and 1 file(s) rejected",
    }

    rerun = dataclasses.replace(args, strict=False)
    again = glue_job.run_ingestion(spark, rerun, tmp_path, client=client, spark_reads_s3=False, registry=registry)
    assert again["status"] == "succeeded" and again["files"] == {"ingested": 0, "duplicate": 0, "rejected": 0}
    assert again["batches"] == [] and spark.table(source.table).count() == 1


def test_a_job_that_fails_still_leaves_ingest_json_and_summary_json(aws_env, tmp_path):
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    args = glue_job.parse_args([*ARGS, "--landing_uri", f"s3://{BUCKET}/"])  # a bucket root: no archive beside it

    with pytest.raises(ConfigError, match="must be a folder in its bucket"):
        glue_job.run_ingestion(None, args, tmp_path, client=client)

    stored = {
        name: json.loads(client.get_object(Bucket=BUCKET, Key=f"lh/runs/run-2026-11-27/{name}")["Body"].read())
        for name in ("ingest.json", "summary.json")
    }
    for payload in stored.values():
        assert payload["status"] == "failed" and payload["failed_step"] == "ingest"
        assert payload["error"].startswith("an S3 landing must be a folder in its bucket")
        assert payload["files"] == {"ingested": 0, "duplicate": 0, "rejected": 0}
    assert tuple(stored["summary.json"]) == SUMMARY_KEYS
