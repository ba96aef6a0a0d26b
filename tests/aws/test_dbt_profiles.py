"""The glue and athena profiles take every setting from the environment with ingestion/aws.py's defaults,
and the Glue sessions get ingestion/spark.py's settings: rendered by dbt itself, no AWS call."""

from __future__ import annotations

import os

import pytest
from dbt.config.profile import Profile, read_profile
from dbt.config.renderer import ProfileRenderer
from dbt.flags import set_from_args

from ingestion.aws import DEFAULT_ATHENA_WORKGROUP, DEFAULT_REGION, AwsSettings
from ingestion.config import PROFILES_DIR, load_settings
from ingestion.spark import (
    PLANNING,
    SEMANTICS,
    dbt_glue_spark_conf,
    glue_conf_argument,
    parse_glue_conf_argument,
    spark_conf,
)
from lakehouse.dbt_runner import dbt_environment, target_of

AWS_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "LAKEHOUSE_S3_ROOT",
    "LAKEHOUSE_GLUE_ROLE_ARN",
    "LAKEHOUSE_ATHENA_WORKGROUP",
    "LAKEHOUSE_GLUE_SPARK_CONF",
)


def render(target: str):
    """The credentials dbt builds from profiles/profiles.yml for ``target``."""
    from argparse import Namespace

    from dbt_common.context import set_invocation_context

    set_invocation_context(dict(os.environ))  # what dbt's env_var() reads
    set_from_args(Namespace(), None)
    raw = read_profile(str(PROFILES_DIR))
    return Profile.from_raw_profiles(raw, "lakehouse", ProfileRenderer({}), target_override=target).credentials


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_profile_defaults_are_the_aws_module_defaults(clean_env: pytest.MonkeyPatch) -> None:
    aws = AwsSettings.from_env({})
    clean_env.setenv("LAKEHOUSE_GLUE_SPARK_CONF", glue_conf_argument(dbt_glue_spark_conf(aws)))

    athena = render("athena")
    assert athena.region_name == DEFAULT_REGION == aws.region
    assert athena.work_group == DEFAULT_ATHENA_WORKGROUP == aws.athena_workgroup
    assert athena.s3_staging_dir == aws.uri("athena-results") == "s3://incremental-lakehouse/athena-results/"
    assert athena.s3_data_dir == aws.uri("warehouse")
    assert athena.num_iceberg_retries == 5
    assert athena.s3_data_naming == "schema_table_unique"  # warehouse/<schema>/<table>/<uuid>: the one layout

    glue = render("glue")
    assert glue.region == aws.region
    assert glue.role_arn == aws.glue_role_arn == ""
    assert glue.location == aws.uri("warehouse")
    assert glue.glue_version == "5.0"
    assert glue.glue_session_reuse is True
    assert glue.datalake_formats == "iceberg"


def test_profiles_follow_the_environment_like_the_aws_module(clean_env: pytest.MonkeyPatch) -> None:
    env = {
        "AWS_REGION": "eu-west-1",
        "LAKEHOUSE_S3_ROOT": "s3://other-bucket/lake/",
        "LAKEHOUSE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/lakehouse-glue",
        "LAKEHOUSE_ATHENA_WORKGROUP": "analysts",
    }
    for name, value in env.items():
        clean_env.setenv(name, value)
    aws = AwsSettings.from_env(env)
    clean_env.setenv("LAKEHOUSE_GLUE_SPARK_CONF", glue_conf_argument(dbt_glue_spark_conf(aws)))

    athena, glue = render("athena"), render("glue")
    assert (athena.region_name, athena.work_group) == ("eu-west-1", "analysts")
    assert athena.s3_staging_dir == aws.uri("athena-results") == "s3://other-bucket/lake/athena-results/"
    assert athena.s3_data_dir == aws.uri("warehouse")
    assert (glue.region, glue.role_arn, glue.location) == ("eu-west-1", aws.glue_role_arn, aws.uri("warehouse"))
    assert "spark.sql.catalog.glue_catalog.warehouse=s3://other-bucket/lake/warehouse" in glue.conf


def test_glue_profile_conf_is_spark_py_settings(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    """What `lakehouse dbt --target glue` sets is what the profile hands to Glue, and the settings that
    decide what SQL means are the very values local Spark runs with."""
    settings = load_settings(home=tmp_path / "home")
    environment = dbt_environment(settings, "glue")
    assert environment["LAKEHOUSE_TARGET"] == "glue"
    assert "LAKEHOUSE_SPARK_CONF_JSON" not in environment  # no local Spark for the AWS targets
    clean_env.setenv("LAKEHOUSE_GLUE_SPARK_CONF", environment["LAKEHOUSE_GLUE_SPARK_CONF"])

    glue_conf = parse_glue_conf_argument(render("glue").conf)
    assert glue_conf == dbt_glue_spark_conf(AwsSettings.from_env({}))
    local = spark_conf(settings)
    for key in [*SEMANTICS, *PLANNING]:
        assert glue_conf[key] == local[key], key
    assert glue_conf["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    assert glue_conf["spark.sql.session.timeZone"] == "UTC"
    assert glue_conf["spark.sql.catalog.spark_catalog.catalog-impl"] == "org.apache.iceberg.aws.glue.GlueCatalog"


def test_target_comes_from_the_command_line_then_the_environment(tmp_path) -> None:
    settings = load_settings(home=tmp_path / "home")
    assert target_of(settings, ["build"]) == "local"
    assert target_of(settings, ["build", "--target", "glue"]) == "glue"
    assert target_of(settings, ["compile", "-t", "athena"]) == "athena"
    assert target_of(settings, ["compile", "--target=athena"]) == "athena"
    with pytest.raises(Exception, match="unknown dbt target 'prod'"):
        target_of(settings, ["build", "--target", "prod"])
