"""The stand-in itself: the AWS settings module and a real boto3 round trip through the moto server."""

import boto3
import pytest

from ingestion.aws import DEFAULT_S3_ROOT, AwsSettings, split_s3_uri
from ingestion.config import ConfigError


def test_settings_come_from_the_environment_with_documented_defaults():
    defaults = AwsSettings.from_env({})
    assert (defaults.region, defaults.s3_root, defaults.athena_workgroup) == ("us-east-1", DEFAULT_S3_ROOT, "lakehouse")
    custom = AwsSettings.from_env({"AWS_REGION": "eu-west-1", "LAKEHOUSE_S3_ROOT": "s3://my-bucket/team/"})
    assert custom.region == "eu-west-1"
    assert custom.uri("warehouse") == "s3://my-bucket/team/warehouse/"
    assert custom.bucket == "my-bucket"


@pytest.mark.parametrize("uri", ["/tmp/x", "s3://", "s3:///key", "https://bucket/x"])
def test_a_bad_s3_root_is_a_clear_error(uri):
    with pytest.raises(ConfigError, match="not an S3 URI"):
        AwsSettings.from_env({"LAKEHOUSE_S3_ROOT": uri})
    with pytest.raises(ConfigError):
        split_s3_uri(uri)


def test_boto3_reaches_the_stand_in_and_state_is_reset_per_test(aws_env):
    s3 = boto3.client("s3")
    assert s3.list_buckets()["Buckets"] == []  # reset: nothing left by another test
    s3.create_bucket(Bucket="lakehouse-stand-in")
    s3.put_object(Bucket="lakehouse-stand-in", Key="landing/a.csv", Body=b"id\n1\n")
    assert s3.get_object(Bucket="lakehouse-stand-in", Key="landing/a.csv")["Body"].read() == b"id\n1\n"
