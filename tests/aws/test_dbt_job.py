"""The dbt job against the S3 stand-in: the project zip from ``make package`` is downloaded, unpacked and
run by real dbt (``ls``/``run-operation`` with the local target: no Glue needed), and ``summary.json``
merges the run's ``ingest.json``. Nothing of ours is mocked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ingestion.landing_s3 import s3_client
from ingestion.run_summary import SUMMARY_KEYS
from lakehouse.aws import dbt_job
from lakehouse.aws.package import build_package

REPO = Path(__file__).resolve().parents[2]
BUCKET = "lakehouse-dbt"
INGEST = {
    "run_id": "r42",
    "status": "succeeded",
    "failed_step": None,
    "error": None,
    "files": {"ingested": 3, "duplicate": 1, "rejected": 1},
    "rows": 1250,
    "quarantined": 2,
    "rejected": [
        {
            "source": "telecom_subscriptions",
            "file": "telecom/x.csv",
            "reason": "header lacks required column(s): CustomerID",
        }
    ],
    "batches": [7],
    "rolled_back": [],
    "archived": 0,
    "unmatched": [],
}


@pytest.fixture
def project_in_s3(aws_env, tmp_path, monkeypatch):
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    build_package(tmp_path / "dist", REPO, wheel=False)
    client.upload_file(str(tmp_path / "dist" / "dbt_project.zip"), BUCKET, "lh/artifacts/dbt_project.zip")
    body = json.dumps(INGEST).encode()
    client.put_object(Bucket=BUCKET, Key="lh/runs/r42/ingest.json", Body=body)
    monkeypatch.setenv("LAKEHOUSE_SPARK_CONF_JSON", "{}")  # the local profile reads it; ls needs no session
    for name in ("DBT_TARGET_PATH", "DBT_LOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    return client


def job(command: str) -> list[str]:
    return [
        "dbt_job.py",
        "--JOB_ID",
        "j_1",  # Glue's own arguments are ignored
        "--project_uri",
        f"s3://{BUCKET}/lh/artifacts/dbt_project.zip",
        "--dbt_command",
        command,
        "--target",
        "local",
        "--run_id",
        "r42",
        "--report_uri",
        f"s3://{BUCKET}/lh/runs",
    ]


def stored_summary(client) -> dict:
    return json.loads(client.get_object(Bucket=BUCKET, Key="lh/runs/r42/summary.json")["Body"].read())


def test_arguments_and_defaults():
    assert "awsglue" not in sys.modules
    args = dbt_job.parse_args(
        ["dbt_job.py", "--project_uri", "s3://b/p.zip", "--run_id", "r", "--report_uri", "s3://b/runs"]
    )
    assert (args.dbt_command, args.target) == ("build", "glue")


def test_a_dbt_command_runs_from_the_zip_and_the_summary_merges_ingest_json(project_in_s3, tmp_path):
    result = dbt_job.run_job(dbt_job.parse_args(job("ls --resource-type model")), project_in_s3, tmp_path / "work")

    assert stored_summary(project_in_s3) == result
    assert tuple(result) == SUMMARY_KEYS
    assert result == {
        "run_id": "r42",
        "status": "succeeded",
        "files": {"ingested": 3, "duplicate": 1, "rejected": 1},
        "rows": 1250,
        "quarantined": 2,
        "rejected": INGEST["rejected"],
        "models": 0,  # `ls` lists, it builds nothing
        "tests": 0,
        "test_warnings": 0,
        "failed_step": None,
        "error": None,
    }
    assert (tmp_path / "work" / "project" / "dbt_project.yml").is_file()
    assert (tmp_path / "work" / "target" / "manifest.json").is_file()  # dbt parsed the unpacked project


def test_a_failing_dbt_command_is_the_failed_step(project_in_s3, tmp_path):
    result = dbt_job.run_job(dbt_job.parse_args(job("run-operation no_such_macro")), project_in_s3, tmp_path)

    assert stored_summary(project_in_s3) == result
    assert result["status"] == "failed" and result["failed_step"] == "dbt"
    assert result["error"].startswith("dbt run-operation: ") and "no_such_macro" in result["error"]
    assert result["files"] == INGEST["files"]  # the ingestion counts are still reported
