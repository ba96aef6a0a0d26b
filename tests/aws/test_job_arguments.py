"""The Glue jobs' DefaultArguments in infra/lakehouse.yaml are what the job scripts accept: the template's
values go through each script's own parser, and the dbt job's arguments reach the glue profile (a Glue
job sets no LAKEHOUSE_* variable, so the bucket and the sessions' role must come from its arguments)."""

from __future__ import annotations

from typing import Any

import pytest
from infra_support import template
from test_dbt_profiles import AWS_VARIABLES, render

from ingestion import glue_job
from ingestion.aws import AwsSettings
from ingestion.spark import dbt_glue_spark_conf, glue_conf_argument
from lakehouse.aws import dbt_job

BUCKET = "lakehouse-111122223333-eu-west-1"
DBT_ROLE = "arn:aws:iam::111122223333:role/lakehouse-dbt-job"


def argv_of(job: str) -> list[str]:
    """The job's DefaultArguments as Glue passes them (script first), intrinsics resolved for one stack."""
    argv = [f"{job}.py"]
    for key, value in template()["Resources"][job]["Properties"]["DefaultArguments"].items():
        if isinstance(value, dict) and "Fn::Sub" in value:
            value = value["Fn::Sub"].replace("${DataBucket}", BUCKET).replace("${DbtGlueVersion}", "1.10.19")
        elif isinstance(value, dict) and value.get("Fn::GetAtt") == ["DbtJobRole", "Arn"]:
            value = DBT_ROLE
        assert isinstance(value, str) and "${" not in value, (key, value)
        argv += [key, value]
    return argv


def test_the_ingestion_job_accepts_its_template_arguments():
    args = glue_job.parse_args([*argv_of("IngestJob"), "--run_id", "exec-1-1"])
    assert args.sources == ()  # `all`: every source of the registry
    assert (args.landing_uri, args.warehouse_uri) == (f"s3://{BUCKET}/landing/", f"s3://{BUCKET}/warehouse/")
    assert (args.report_uri, args.strict) == (f"s3://{BUCKET}/runs/", False)


def test_named_sources_are_still_checked():
    values = {"landing_uri": "s3://b/l/", "warehouse_uri": "s3://b/w/", "report_uri": "s3://b/r/", "run_id": "r"}
    assert glue_job.job_args({**values, "sources": "telecom_subscriptions"}).sources == ("telecom_subscriptions",)
    with pytest.raises(Exception, match="nosuch"):
        glue_job.job_args({**values, "sources": "nosuch"})


def test_the_dbt_job_passes_the_bucket_and_role_of_its_arguments_to_the_glue_profile(monkeypatch):
    args = dbt_job.parse_args(argv_of("DbtJob"))
    assert (args.project_uri, args.target) == (f"s3://{BUCKET}/artifacts/dbt_project.zip", "glue")
    assert args.profile_env() == {"LAKEHOUSE_S3_ROOT": f"s3://{BUCKET}", "LAKEHOUSE_GLUE_ROLE_ARN": DBT_ROLE}

    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in args.profile_env().items():
        monkeypatch.setenv(name, value)
    aws = AwsSettings.from_env()
    monkeypatch.setenv("LAKEHOUSE_GLUE_SPARK_CONF", glue_conf_argument(dbt_glue_spark_conf(aws)))
    glue: Any = render("glue")
    assert (glue.role_arn, glue.location) == (DBT_ROLE, f"s3://{BUCKET}/warehouse/")
    assert f"spark.sql.catalog.glue_catalog.warehouse=s3://{BUCKET}/warehouse" in glue.conf
