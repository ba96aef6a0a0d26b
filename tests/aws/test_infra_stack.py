"""The stack deployed into the moto stand-in by ``infra/deploy.py deploy`` (once for the module), then the
resources moto's CloudFormation models, read back through boto3.

moto's CloudFormation does not model Glue databases, jobs or security configurations, Athena workgroups,
bucket policies, SNS topic policies or CloudWatch alarms (it warns and skips them):
tests/aws/test_infra_template.py asserts those in the template.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from conftest import REGION, moto_api, point_at_stand_in
from infra_support import deploy_module, placeholders_of_template

ACCOUNT = "123456789012"  # moto's default account
BUCKET = f"lakehouse-{ACCOUNT}-{REGION}"

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto: a resource type it does not model


@pytest.fixture(scope="module")
def stack(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`deploy` with no parameter into a fresh stand-in, with stand-ins for what `make package` builds."""
    moto_api(moto_endpoint, "reset")
    dist = tmp_path_factory.mktemp("dist")
    for name in deploy_module().ARTIFACTS:
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_bytes(f"stand-in for {name}".encode())
    with pytest.MonkeyPatch.context() as patch:
        point_at_stand_in(patch, moto_endpoint)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert deploy_module().main(["deploy", "--dist", str(dist)]) == 0
        cfn = boto3.client("cloudformation")
        resources = {
            item["LogicalResourceId"]: item["PhysicalResourceId"]
            for item in cfn.list_stack_resources(StackName="lakehouse")["StackResourceSummaries"]
            if item.get("PhysicalResourceId")
        }
        yield {"printed": printed.getvalue(), "resources": resources, "dist": dist}


@pytest.fixture
def aws(stack):
    """Clients to the stand-in holding the deployed stack (the module fixture's environment is still set)."""
    return lambda name: boto3.client(name)


def test_deploy_prints_the_outputs_and_uploads_the_artifacts(stack, aws):
    printed = stack["printed"]
    assert f"BucketName: {BUCKET}" in printed
    assert f"StateMachineArn: arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:lakehouse-pipeline" in printed
    assert f"export LAKEHOUSE_S3_ROOT=s3://{BUCKET}" in printed
    keys = {item["Key"] for item in aws("s3").list_objects_v2(Bucket=BUCKET, Prefix="artifacts/")["Contents"]}
    assert keys == {f"artifacts/{name}" for name in deploy_module().ARTIFACTS}


def test_the_bucket_is_encrypted_with_the_stack_key(stack, aws):
    """moto's CloudFormation applies only BucketEncryption and Tags of an AWS::S3::Bucket (moto/s3/models.py,
    FakeBucket.create_from_cloudformation_json): the public access block, versioning, lifecycle and EventBridge
    notifications are asserted in the template (test_infra_template.py)."""
    [rule] = aws("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(stack["resources"]["DataKey"])


def policy(document: str | dict) -> dict:
    """A policy document as boto3 returns it. moto 5.2.5 stores the inline policies of a CloudFormation role as
    the Python repr of the dict (``{'Version': ...}``), which is what get_role_policy then returns."""
    if isinstance(document, dict):
        return document
    text = unquote(document)
    return json.loads(text) if text.startswith('{"') else ast.literal_eval(text)


def test_each_role_has_its_trust_and_its_own_policy(stack, aws):
    iam = aws("iam")
    trusted = {
        "lakehouse-ingest-job": "glue.amazonaws.com",
        "lakehouse-dbt-job": "glue.amazonaws.com",
        "lakehouse-pipeline": "states.amazonaws.com",
        "lakehouse-events": "events.amazonaws.com",
        "lakehouse-analyst": f"arn:aws:iam::{ACCOUNT}:root",
        "lakehouse-finance": f"arn:aws:iam::{ACCOUNT}:root",
    }
    for role_name, principal in trusted.items():
        role = iam.get_role(RoleName=role_name)["Role"]
        [statement] = policy(role["AssumeRolePolicyDocument"])["Statement"]
        assert principal in json.dumps(statement["Principal"]), role_name
        [policy_name] = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        assert policy(iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"])["Statement"]
    pipeline = policy(iam.get_role_policy(RoleName="lakehouse-pipeline", PolicyName="pipeline")["PolicyDocument"])
    glue = next(item for item in pipeline["Statement"] if item["Sid"] == "RunTheTwoJobs")
    assert sorted(glue["Resource"]) == [
        f"arn:aws:glue:{REGION}:{ACCOUNT}:job/lakehouse-dbt",
        f"arn:aws:glue:{REGION}:{ACCOUNT}:job/lakehouse-ingest",
    ]
    analyst = policy(iam.get_role_policy(RoleName="lakehouse-analyst", PolicyName="athena-gold")["PolicyDocument"])
    deny = next(item for item in analyst["Statement"] if item["Effect"] == "Deny")
    assert f"arn:aws:s3:::{BUCKET}/warehouse/gold/invoice_features*" in deny["Resource"]


def test_the_state_machine_is_the_definition_file(stack, aws):
    sfn = aws("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=stack["resources"]["PipelineStateMachine"])
    assert machine["name"] == "lakehouse-pipeline"
    assert machine["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/lakehouse-pipeline"
    # moto stores the definition without applying DefinitionSubstitutions (CloudFormation would fill them)
    deploy = deploy_module()
    assert json.loads(machine["definition"]) == deploy.without_comments(json.loads(deploy.DEFINITION.read_text()))
    assert deploy_module().placeholders(machine["definition"]) == placeholders_of_template()


def test_s3_events_under_landing_start_the_state_machine(stack, aws):
    events = aws("events")
    rule = events.describe_rule(Name="lakehouse-landing")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [BUCKET]
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "landing/*.csv"}, {"wildcard": "landing/*.csv.gz"}]
    [target] = events.list_targets_by_rule(Rule="lakehouse-landing")["Targets"]
    assert target["Arn"] == stack["resources"]["PipelineStateMachine"]
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/lakehouse-events"
    assert "lakehouse-schedule" not in {item["Name"] for item in events.list_rules()["Rules"]}  # off by default


def test_the_topic_is_encrypted_and_the_lock_table_and_log_group_exist(stack, aws):
    key = stack["resources"]["DataKey"]
    topic = stack["resources"]["NotificationTopic"]
    assert aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"].endswith(key)
    assert aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []  # no e-mail by default
    table = aws("dynamodb").describe_table(TableName="lakehouse-pipeline-lock")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "lock_id", "KeyType": "HASH"}]
    # moto's CloudFormation drops the table's SSESpecification: test_infra_template asserts it
    [group] = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/lakehouse-pipeline")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 365  # moto drops KmsKeyId: test_infra_template asserts it


def test_optional_parameters_add_the_e_mail_subscription_and_the_schedule(stack, aws):
    deploy = deploy_module()
    parameters = deploy.parse_parameters(
        ["ProjectName=lakehouse2", "NotificationEmail=data-team@example.com", "ScheduleExpression=rate(1 day)"]
    )
    outputs = deploy.deploy_stack(aws("cloudformation"), "lakehouse2", deploy.render_template(), parameters, 1)
    [subscription] = aws("sns").list_subscriptions_by_topic(TopicArn=outputs["TopicArn"])["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "data-team@example.com")
    schedule = aws("events").describe_rule(Name="lakehouse2-schedule")
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    [target] = aws("events").list_targets_by_rule(Rule="lakehouse2-schedule")["Targets"]
    assert target["Arn"] == outputs["StateMachineArn"]


def test_destroy_with_delete_data_removes_the_stack_the_bucket_and_the_key(stack, aws):
    deploy = deploy_module()
    outputs = deploy.deploy_stack(
        aws("cloudformation"), "doomed", deploy.render_template(), deploy.parse_parameters(["ProjectName=doomed"]), 1
    )
    bucket = outputs["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="warehouse/gold/t/data/0.parquet", Body=b"table data")
    aws("s3").put_object(Bucket=bucket, Key="warehouse/gold/t/data/0.parquet", Body=b"version 2")
    key = deploy.stack_resources(aws("cloudformation"), "doomed")["DataKey"]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert deploy.main(["destroy", "--stack", "doomed", "--yes", "--delete-data"]) == 0
    assert "ALSO DELETES" in printed.getvalue()
    assert deploy.stack_status(aws("cloudformation"), "doomed") in (None, "DELETE_COMPLETE")
    assert bucket not in {item["Name"] for item in aws("s3").list_buckets()["Buckets"]}
    # moto 5.2.5 cannot describe a key CloudFormation made (its KeyPolicy is kept as a dict): the call is the proof
    assert f"KMS key {key} scheduled for deletion in 30 days" in printed.getvalue()
