"""The pipeline state machine (infra/statemachine/pipeline.asl.json) EXECUTED by moto's Step Functions
interpreter against moto's Glue, S3, SNS and DynamoDB: the success message carries the run summary, a failing
job ends in the failure branch with the failing step and error, and the lock lets one build run at a time.

moto's Glue job runs always succeed (STARTING -> RUNNING -> SUCCEEDED, moto/glue/models.py FakeJobRun); the
server runs in this process, so a failing run is made by giving the ingestion job's runs the transition
RUNNING -> FAILED. A job that does not exist fails at StartJobRun (Glue.EntityNotFoundException).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import moto_api
from infra_support import definition_text, deploy_module, history, wait_for_execution

INGEST_JOB = "lakehouse-ingest"
DBT_JOB = "lakehouse-dbt"
BUCKET = "lakehouse-test-data"
LOCK_TABLE = "lakehouse-pipeline-lock"

SUMMARY = {
    "run_id": "run-ok-1",
    "status": "succeeded",
    "files": {"ingested": 3, "duplicate": 1, "rejected": 0},
    "rows": 50,
    "quarantined": 2,
    "rejected": 0,
    "models": 31,
    "tests": 120,
    "test_warnings": 0,
    "failed_step": None,
    "error": None,
}


@dataclass
class Pipeline:
    sfn: Any
    glue: Any
    s3: Any
    sqs: Any
    dynamodb: Any
    arn: str
    inbox: str

    def run(self, name: str, payload: dict | None = None) -> dict[str, Any]:
        started = self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload or {}))
        return wait_for_execution(self.sfn, started["executionArn"])

    def messages(self) -> list[dict[str, Any]]:
        """The SNS notifications (envelopes with Subject and Message) received by the test's SQS subscriber."""
        received = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]

    def job_runs(self, job: str) -> list[dict[str, Any]]:
        return self.glue.get_job_runs(JobName=job)["JobRuns"]

    def lock(self) -> dict[str, Any] | None:
        return self.dynamodb.get_item(TableName=LOCK_TABLE, Key={"lock_id": {"S": "pipeline"}}).get("Item")

    def put_summary(self, run_id: str, summary: dict) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/summary.json", Body=json.dumps(summary).encode())


def work_around_moto_glue_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 cannot complete ``glue:startJobRun.sync``: Glue supports only the Sync pattern, so the task has
    no callback endpoint and ``_eval_integration_pattern``'s ``finally`` calls ``interrupt_all()`` on None
    (States.Runtime "'NoneType' object has no attribute 'interrupt_all'"). Declaring waitForTaskToken support
    too makes the interpreter create the endpoint; the Glue polling itself is moto's, unchanged."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_glue as glue_service,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition

    patterns = {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
    monkeypatch.setattr(glue_service, "_SUPPORTED_INTEGRATION_PATTERNS", patterns)


def work_around_moto_aws_sdk_casing(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS SDK integrations take PascalCase parameters (``ExecutionArn``) and answer in PascalCase (``Status``),
    with an S3 Body as text. moto 5.2.5 ships the converters (``_to_boto_request``, ``_from_boto_response``)
    but leaves ``_normalise_parameters``/``_normalise_response`` empty for aws-sdk tasks, so
    ``aws-sdk:sfn:describeExecution`` fails ('ExecutionArn') and ``s3:getObject`` leaves a stream in the state.
    Call moto's converters with botocore's model of the operation."""
    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    models = botocore.session.get_session()

    def operation(task: Any) -> Any:
        service = models.get_service_model(task._get_boto_service_name())
        names = {xform_name(name): name for name in service.operation_names}
        return service.operation_model(names[task._get_boto_service_action()])

    def normalise_parameters(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
        self._to_boto_request(parameters, operation(self).input_shape)

    def normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        self._from_boto_response(response, operation(self).output_shape)

    monkeypatch.setattr(StateTaskServiceAwsSdk, "_normalise_parameters", normalise_parameters)
    monkeypatch.setattr(StateTaskServiceAwsSdk, "_normalise_response", normalise_response)


@pytest.fixture
def pipeline(aws_env, moto_endpoint, monkeypatch) -> Iterator[Pipeline]:
    """The resources the definition uses, created directly (moto's CloudFormation does not model Glue jobs),
    and the state machine from the definition file with the substitutions CloudFormation would make."""
    monkeypatch.setenv("MOTO_PORT", moto_endpoint.rsplit(":", 1)[1])  # where moto's interpreter sends its calls
    work_around_moto_glue_sync(monkeypatch)
    work_around_moto_aws_sdk_casing(monkeypatch)
    moto_api(moto_endpoint, "config", json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode())
    glue, s3, sns, sqs = (boto3.client(name) for name in ("glue", "s3", "sns", "sqs"))
    dynamodb, iam, sfn = boto3.client("dynamodb"), boto3.client("iam"), boto3.client("stepfunctions")
    for job in (INGEST_JOB, DBT_JOB):
        glue.create_job(Name=job, Role="arn:aws:iam::123456789012:role/job", Command={"Name": "glueetl"})
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(
        TableName=LOCK_TABLE,
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = sns.create_topic(Name="lakehouse-runs")["TopicArn"]
    inbox = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    role = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = deploy_module().substitute(
        definition_text(),
        {
            "LockTable": LOCK_TABLE,
            "IngestJobName": INGEST_JOB,
            "DbtJobName": DBT_JOB,
            "TopicArn": topic,
            "Bucket": BUCKET,
            "RunsPrefix": "runs/",
            "SettleSeconds": 0,
        },
    )
    arn = sfn.create_state_machine(name="lakehouse-pipeline", definition=definition, roleArn=role)["stateMachineArn"]
    yield Pipeline(sfn, glue, s3, sqs, dynamodb, arn, inbox)
    moto_api(moto_endpoint, "config", json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode())


def fail_runs_of(job: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of ``job`` end FAILED in the (in-process) moto server."""
    from moto.glue.models import FakeJobRun

    original = FakeJobRun.__init__

    def init(self, job_name: str, *args: Any, **kwargs: Any) -> None:
        original(self, job_name, *args, **kwargs)
        if job_name == job:
            self._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]

    monkeypatch.setattr(FakeJobRun, "__init__", init)


def test_a_successful_build_publishes_the_run_summary(pipeline):
    pipeline.put_summary("run-ok-1", SUMMARY)

    execution = pipeline.run("run-ok", {"source": "aws.s3", "detail": {"object": {"key": "landing/a.csv"}}})

    assert execution["status"] == "SUCCEEDED"
    [message] = pipeline.messages()
    assert message["Subject"] == "Lakehouse run run-ok-1 succeeded"
    assert json.loads(message["Message"]) == SUMMARY
    [ingest] = pipeline.job_runs(INGEST_JOB)
    [dbt] = pipeline.job_runs(DBT_JOB)
    assert ingest["Arguments"] == {"--run_id": "run-ok-1"}  # the rest are the job's DefaultArguments
    assert dbt["Arguments"] == {"--run_id": "run-ok-1"}
    assert pipeline.lock() is None  # released


def test_a_failing_ingestion_job_ends_in_the_failure_branch(pipeline, monkeypatch):
    fail_runs_of(INGEST_JOB, monkeypatch)

    execution = pipeline.run("run-bad")

    assert execution["status"] == "FAILED"
    history = pipeline.sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert history[-1]["executionFailedEventDetails"]["error"] == "LakehouseBuildFailed"
    [message] = pipeline.messages()
    assert message["Subject"] == "Lakehouse run run-bad-1 FAILED at ingest"
    body = json.loads(message["Message"])
    assert (body["run_id"], body["status"], body["failed_step"], body["error"]) == (
        "run-bad-1",
        "failed",
        "ingest",
        "States.TaskFailed",
    )
    assert json.loads(body["cause"])["JobRunState"] == "FAILED"
    assert body["execution"] == execution["executionArn"]
    assert body["summary"] is None
    assert len(pipeline.job_runs(INGEST_JOB)) == 1  # a failed run is not retried (only transient API errors are)
    assert pipeline.job_runs(DBT_JOB) == []  # dbt never started
    assert pipeline.lock() is None  # a failed build releases the lock


def test_a_failing_dbt_job_sends_its_run_summary_with_the_failure(pipeline, monkeypatch):
    fail_runs_of(DBT_JOB, monkeypatch)
    failed = {
        **SUMMARY,
        "run_id": "run-dbt-1",
        "status": "failed",
        "failed_step": "dbt build",
        "error": "1 test failed",
    }
    pipeline.put_summary("run-dbt-1", failed)

    execution = pipeline.run("run-dbt")

    assert execution["status"] == "FAILED"
    [message] = pipeline.messages()
    assert message["Subject"] == "Lakehouse run run-dbt-1 FAILED at dbt"
    body = json.loads(message["Message"])
    assert (body["failed_step"], body["error"], body["summary"]) == ("dbt", "States.TaskFailed", failed)
    assert pipeline.lock() is None


def test_a_dbt_job_that_cannot_start_is_reported_as_the_dbt_step(pipeline):
    pipeline.glue.delete_job(JobName=DBT_JOB)

    execution = pipeline.run("run-nodbt")

    assert execution["status"] == "FAILED"
    [message] = pipeline.messages()
    body = json.loads(message["Message"])
    assert (body["failed_step"], body["error"]) == ("dbt", "Glue.EntityNotFoundException")
    assert body["summary"] is None  # dbt never ran: no summary
    assert len(pipeline.job_runs(INGEST_JOB)) == 1


def test_a_missing_run_summary_fails_the_execution_at_read_summary(pipeline):
    execution = pipeline.run("run-nosummary")

    assert execution["status"] == "FAILED"
    [message] = pipeline.messages()
    assert json.loads(message["Message"])["failed_step"] == "read_summary"


@pytest.fixture
def glue_runs_hang(moto_endpoint):
    """Glue job runs stay STARTING until the test lets them finish (moto's state manager), e.g. ``release()``."""

    def set_transition(progression: dict | None) -> None:
        if progression is None:
            moto_api(
                moto_endpoint, "state-manager/unset-transition", json.dumps({"model_name": "glue::job_run"}).encode()
            )
        else:
            body = {"model_name": "glue::job_run", "transition": progression}
            moto_api(moto_endpoint, "state-manager/set-transition", json.dumps(body).encode())

    set_transition({"progression": "manual", "times": 1_000_000})
    yield lambda: set_transition(None)
    set_transition(None)


def wait_until(condition, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_a_trigger_during_a_build_is_skipped_and_the_build_runs_one_more_round(pipeline, glue_runs_hang):
    for run_id in ("first-1", "first-2"):
        pipeline.put_summary(run_id, {**SUMMARY, "run_id": run_id})
    first = pipeline.sfn.start_execution(stateMachineArn=pipeline.arn, name="first", input="{}")["executionArn"]
    wait_until(lambda: len(pipeline.job_runs(INGEST_JOB)) == 1)  # first holds the lock, its ingestion runs

    second = pipeline.run("second", {"source": "aws.s3"})  # a file landed meanwhile

    assert second["status"] == "SUCCEEDED", history(pipeline.sfn, second["executionArn"])
    assert json.loads(second["output"]) == {
        "status": "skipped",
        "reason": "another execution holds the pipeline lock; it runs one more round for the files that landed",
        "holder": first,
    }
    assert pipeline.lock()["pending"] == {"BOOL": True}
    assert len(pipeline.job_runs(INGEST_JOB)) == 1  # no concurrent build

    glue_runs_hang()  # the first build's jobs finish
    assert wait_for_execution(pipeline.sfn, first)["status"] == "SUCCEEDED"

    ingest_run_ids = sorted(run["Arguments"]["--run_id"] for run in pipeline.job_runs(INGEST_JOB))
    assert ingest_run_ids == ["first-1", "first-2"]  # the second round built what landed during the first
    subjects = sorted(message["Subject"] for message in pipeline.messages())
    assert subjects == ["Lakehouse run first-1 succeeded", "Lakehouse run first-2 succeeded"]
    assert pipeline.lock() is None


def test_a_lock_left_by_an_aborted_execution_is_taken_over(pipeline, glue_runs_hang):
    pipeline.put_summary("later-1", {**SUMMARY, "run_id": "later-1"})
    aborted = pipeline.sfn.start_execution(stateMachineArn=pipeline.arn, name="aborted", input="{}")["executionArn"]
    wait_until(lambda: len(pipeline.job_runs(INGEST_JOB)) == 1)
    pipeline.sfn.stop_execution(executionArn=aborted)  # no Catch runs: the lock stays behind
    assert wait_for_execution(pipeline.sfn, aborted)["status"] == "ABORTED"
    assert pipeline.lock()["owner"] == {"S": aborted}
    glue_runs_hang()

    later = pipeline.run("later")

    assert later["status"] == "SUCCEEDED", history(pipeline.sfn, later["executionArn"])
    [message] = pipeline.messages()
    assert message["Subject"] == "Lakehouse run later-1 succeeded"
    assert pipeline.lock() is None
