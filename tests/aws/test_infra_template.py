"""infra/ checked without any AWS: cfn-lint and checkov on every template, the state machine definition's
shape, what moto's CloudFormation does not model (Glue databases and jobs, Athena workgroups, bucket
settings, the TLS-only policy, the alarm), and an IAM review of every policy in the template."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infra_support import INFRA, REPO, definition_text, deploy_module, placeholders_of_template, template

from ingestion.registry import SOURCES

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
SCHEMAS = ("bronze", "staging", "silver", "gold", "reference", "meta")


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template()["Resources"].items() if body["Type"] == kind}


def properties(name: str) -> dict[str, Any]:
    return template()["Resources"][name]["Properties"]


# ---------------------------------------------------------------------------------------------- linters


def test_cfn_lint_is_clean_on_the_template_and_on_what_deploy_renders(tmp_path):
    rendered = tmp_path / "lakehouse.rendered.json"
    rendered.write_text(deploy_module().render_template())
    templates = sorted(INFRA.glob("**/*.yaml")) + [rendered]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, templates)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not CHECKOV.exists() and not os.environ.get("CI"),  # in CI a missing checkov fails, never skips
    reason="checkov is installed by `make install` into .venv-checkov",
)
def test_checkov_passes_with_only_documented_skips():
    result = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--skip-download", "-o", "json"], capture_output=True, text=True
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]  # one report per framework that found files
    failed = [
        (report["check_type"], check["check_id"], check["resource"])
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    [cloudformation] = [report for report in reports if report["check_type"] == "cloudformation"]
    assert cloudformation["summary"]["passed"] > 50  # it did scan the template
    assert cloudformation["summary"]["skipped"] == 1  # CKV_AWS_18, justified below
    for name, body in template()["Resources"].items():
        for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{name}: skip {skip['id']} needs a one-line justification"


# ---------------------------------------------------------------------------------------------- template


def test_every_parameter_has_a_default_and_no_account_id_is_hard_coded():
    assert all("Default" in parameter for parameter in template()["Parameters"].values())
    assert not re.search(r"\b\d{12}\b", (INFRA / "lakehouse.yaml").read_text())
    assert not re.search(r"\b\d{12}\b", definition_text())


def test_one_glue_database_per_schema_under_the_warehouse_and_no_crawlers():
    databases = {
        body["Properties"]["DatabaseInput"]["Name"]: body for body in resources("AWS::Glue::Database").values()
    }
    assert set(databases) == set(SCHEMAS)
    for name, body in databases.items():
        assert body["Properties"]["DatabaseInput"]["LocationUri"] == {
            "Fn::Sub": f"s3://${{DataBucket}}/warehouse/{name}.db"
        }
    assert resources("AWS::Glue::Crawler") == {}


def test_the_jobs_run_the_packaged_artifacts_with_the_agreed_arguments():
    artifacts = {f"s3://${{DataBucket}}/artifacts/{name}" for name in deploy_module().ARTIFACTS}
    ingest, dbt = properties("IngestJob"), properties("DbtJob")
    assert (ingest["GlueVersion"], ingest["Command"]["Name"]) == ("5.0", "glueetl")
    assert ingest["Command"]["ScriptLocation"]["Fn::Sub"] in artifacts
    arguments = {
        key: value.get("Fn::Sub", value) if isinstance(value, dict) else value
        for key, value in ingest["DefaultArguments"].items()
    }
    assert arguments["--extra-py-files"] in artifacts
    assert arguments["--datalake-formats"] == "iceberg"
    assert arguments["--enable-glue-datacatalog"] == "true"
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"  # the ledger gives exactly-once
    assert arguments["--landing_uri"] == "s3://${DataBucket}/landing/"
    assert arguments["--warehouse_uri"] == "s3://${DataBucket}/warehouse/"
    assert arguments["--report_uri"] == "s3://${DataBucket}/runs/"
    assert (arguments["--sources"], arguments["--strict"]) == ("all", "false")
    assert (dbt["Command"]["Name"], dbt["GlueVersion"]) == ("glueetl", "5.0")  # Python 3.11: the wheel's
    assert dbt["Command"]["ScriptLocation"]["Fn::Sub"] in artifacts
    arguments = {
        key: value.get("Fn::Sub", value) if isinstance(value, dict) else value
        for key, value in dbt["DefaultArguments"].items()
    }
    assert arguments["--project_uri"] == "s3://${DataBucket}/artifacts/dbt_project.zip"
    assert (arguments["--dbt_command"], arguments["--target"]) == ("build", "glue")
    assert arguments["--report_uri"] == "s3://${DataBucket}/runs/"
    assert arguments["--extra-py-files"] == "s3://${DataBucket}/artifacts/glue/ingestion.zip"
    dbt_core, dbt_glue = arguments["--additional-python-modules"].split(",")
    assert dbt_core == "dbt-core~=1.10.19"  # not the project wheel: its pyspark pin would replace Glue's
    assert (
        dbt_glue == "dbt-glue==${DbtGlueVersion}" and template()["Parameters"]["DbtGlueVersion"]["Default"] == "1.10.19"
    )
    for job in (ingest, dbt):
        assert job["ExecutionProperty"]["MaxConcurrentRuns"] == 1
        assert job["MaxRetries"] == 0  # the state machine retries transient errors
        assert job["SecurityConfiguration"] == {"Ref": "GlueSecurityConfiguration"}


def test_the_bucket_is_private_versioned_tls_only_and_archives_to_colder_storage():
    bucket = properties("DataBucket")
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert encryption["BucketKeyEnabled"] is True
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    archive = rules["archive-to-colder-storage"]
    assert archive["Prefix"] == "archive/"
    assert [item["StorageClass"] for item in archive["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert template()["Resources"]["DataBucket"]["DeletionPolicy"] == "Retain"
    [statement] = properties("DataBucketPolicy")["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Deny", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_athena_workgroups_enforce_encrypted_results_and_a_scan_cutoff():
    for name, prefix in (
        ("AnalystWorkgroup", "${AthenaWorkgroupName}"),
        ("FinanceWorkgroup", "${AthenaWorkgroupName}-finance"),
    ):
        configuration = properties(name)["WorkGroupConfiguration"]
        assert configuration["EnforceWorkGroupConfiguration"] is True
        assert configuration["BytesScannedCutoffPerQuery"] == {"Ref": "BytesScannedCutoffPerQuery"}
        results = configuration["ResultConfiguration"]
        assert results["OutputLocation"] == {"Fn::Sub": f"s3://${{DataBucket}}/athena-results/{prefix}/"}
        assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert properties("AnalystWorkgroup")["Name"] == {"Ref": "AthenaWorkgroupName"}
    assert template()["Parameters"]["AthenaWorkgroupName"]["Default"] == "lakehouse"  # ingestion/aws.py's default


def test_the_alarm_watches_executions_that_did_not_finish_and_notifies_the_topic():
    alarm = properties("FailedExecutionsAlarm")
    metrics = {metric["Id"]: metric for metric in alarm["Metrics"]}
    watched = {metric["MetricStat"]["Metric"]["MetricName"] for metric in metrics.values() if "MetricStat" in metric}
    assert watched == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for metric in metrics.values():
        if "MetricStat" in metric:
            dimensions = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimensions == [{"Name": "StateMachineArn", "Value": {"Ref": "PipelineStateMachine"}}]
    assert [metric["Id"] for metric in metrics.values() if metric["ReturnData"]] == ["problems"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    assert properties("PipelineLockTable")["SSESpecification"]["SSEType"] == "KMS"
    assert "KmsKeyId" in properties("PipelineLogGroup")


# ---------------------------------------------------------------------------------------------- state machine


def states() -> dict[str, dict[str, Any]]:
    return json.loads(definition_text())["States"]


def test_the_definition_placeholders_are_exactly_the_substitutions():
    assert deploy_module().placeholders(definition_text()) == placeholders_of_template()
    assert properties("PipelineStateMachine")["DefinitionString"].startswith("{")  # replaced by deploy
    rendered = json.loads(deploy_module().render_template())
    embedded = rendered["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionString"]
    assert json.loads(embedded) == deploy_module().without_comments(json.loads(definition_text()))
    assert rendered["Resources"]["IngestJob"] == template()["Resources"]["IngestJob"]  # the rest as written
    assert len(deploy_module().render_template().encode()) < 0.9 * deploy_module().MAX_TEMPLATE_BODY  # headroom


def test_substitution_fills_every_placeholder_or_says_which_is_missing():
    deploy = deploy_module()
    assert deploy.substitute("a ${X} b ${Y} ${X}", {"X": 1, "Y": "y"}) == "a 1 b y 1"
    with pytest.raises(deploy.DeployError, match="no value for Y"):
        deploy.substitute("${X}${Y}", {"X": 1})
    assert deploy.parse_parameters(["A=b=c"]) == [{"ParameterKey": "A", "ParameterValue": "b=c"}]
    with pytest.raises(deploy.DeployError, match="Key=Value"):
        deploy.parse_parameters(["oops"])


def test_every_task_has_a_catch_and_the_jobs_retry_transient_errors_with_backoff():
    tasks = {name: state for name, state in states().items() if state["Type"] == "Task"}
    for name, state in tasks.items():
        assert any("States.ALL" in catch["ErrorEquals"] for catch in state.get("Catch", [])), name
    jobs = {name: state for name, state in tasks.items() if state["Resource"].startswith("arn:aws:states:::glue:")}
    assert set(jobs) == {"Ingest", "Transform"}
    assert states()["Ingest"]["Next"] == "Transform"
    for name, state in jobs.items():
        assert state["Resource"] == "arn:aws:states:::glue:startJobRun.sync", name
        assert state["Parameters"]["Arguments"] == {"--run_id.$": "$.run.run_id"}
        [retry] = state["Retry"]
        assert "Glue.ConcurrentRunsExceededException" in retry["ErrorEquals"]
        assert "States.ALL" not in retry["ErrorEquals"] and "States.TaskFailed" not in retry["ErrorEquals"]
        assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 2


def test_every_state_is_reachable_and_every_next_exists():
    machine = json.loads(definition_text())
    names = set(machine["States"])
    seen, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = machine["States"][name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [item["Next"] for item in state.get("Catch", []) + state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in names, f"{name} -> {target}"
            todo.append(target)
    assert seen == names


# ---------------------------------------------------------------------------------------------- IAM review

FAKE = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "ProjectName": "lakehouse",
    "AthenaWorkgroupName": "lakehouse",
    "DataBucket": "bucket",
    "DataBucket.Arn": "arn:aws:s3:::bucket",
}


def resolve(value: Any) -> Any:
    """Intrinsics in policies, resolved with fixed stand-in values; anything else becomes ``<Name>``."""
    if isinstance(value, list):
        return [resolve(item) for item in value]
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            return re.sub(r"\$\{([^}]+)\}", lambda match: FAKE.get(match[1], f"<{match[1]}>"), value["Fn::Sub"])
        if "Ref" in value:
            return FAKE.get(value["Ref"], f"<{value['Ref']}>")
        if "Fn::GetAtt" in value:
            attribute = ".".join(value["Fn::GetAtt"])
            return FAKE.get(attribute, f"<{attribute}>")
        return {key: resolve(item) for key, item in value.items()}
    return value


def statements_of(role: str) -> list[dict[str, Any]]:
    """Every statement that applies to a role: its inline policies and managed policies naming it."""
    found = [policy["PolicyDocument"] for policy in properties(role).get("Policies", [])]
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for body in resources(kind).values():
            if {"Ref": role} in body["Properties"].get("Roles", []):
                found.append(body["Properties"]["PolicyDocument"])
    statements = [statement for document in found for statement in document["Statement"]]
    return [
        {**statement, "Action": as_list(statement["Action"]), "Resource": as_list(resolve(statement["Resource"]))}
        for statement in statements
    ]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def allowed(role: str, action: str, resource: str) -> bool:
    """Whether a role's policies allow ``action`` on ``resource`` (conditions ignored: they only narrow)."""

    def matches(statement: dict[str, Any]) -> bool:
        return any(fnmatch.fnmatchcase(action, pattern) for pattern in statement["Action"]) and any(
            fnmatch.fnmatchcase(resource, pattern) for pattern in statement["Resource"]
        )

    statements = statements_of(role)
    if any(statement["Effect"] == "Deny" and matches(statement) for statement in statements):
        return False
    return any(statement["Effect"] == "Allow" and matches(statement) for statement in statements)


def invoice_tables() -> list[tuple[str, str]]:
    """(schema, table) of every invoice table, from the registry and the dbt models."""
    bronze = [("bronze", source.name) for source in SOURCES if source.domain == "invoices"]
    models = [
        (path.parent.parent.name, path.stem)
        for layer in ("silver", "gold")
        for path in sorted((REPO / "models" / layer / "invoices").glob("*.sql"))
    ]
    return bronze + models


def can_read(role: str, schema: str, table: str) -> bool:
    """Read through the catalog (Athena, Spark) or straight from the table's files."""
    glue = f"arn:aws:glue:us-east-1:123456789012:table/{schema}/{table}"
    data = f"arn:aws:s3:::bucket/warehouse/{schema}.db/{table}/data/00000-0.parquet"
    return allowed(role, "glue:GetTable", glue) or allowed(role, "s3:GetObject", data)


def test_no_policy_allows_wildcard_actions_on_wildcard_resources():
    for role in resources("AWS::IAM::Role"):
        for statement in statements_of(role):
            if statement["Effect"] != "Allow":
                continue
            wildcard = [action for action in statement["Action"] if action == "*" or action.endswith(":*")]
            assert not (wildcard and "*" in statement["Resource"]), (role, statement.get("Sid"), wildcard)
            assert "*" not in statement["Action"], (role, statement.get("Sid"))


def test_only_the_finance_and_job_roles_can_read_the_invoice_tables():
    tables = invoice_tables()
    assert ("gold", "invoice_features") in tables and ("gold", "account_features_history") in tables
    assert ("bronze", "invoices_invoices") in tables and ("silver", "invoice_line_items") in tables
    readers = {
        role for role in resources("AWS::IAM::Role") for schema, table in tables if can_read(role, schema, table)
    }
    assert readers == {"FinanceRole", "IngestJobRole", "DbtJobRole"}
    gold_features = [(schema, table) for schema, table in tables if schema == "gold"]
    assert all(can_read("FinanceRole", schema, table) for schema, table in gold_features)


def test_analysts_read_the_rest_of_gold_and_nothing_below_it():
    assert can_read("AnalystRole", "gold", "account_datamart")
    assert can_read("AnalystRole", "gold", "daily_flights_processed")
    assert not can_read("AnalystRole", "silver", "subscriptions")
    assert not can_read("AnalystRole", "bronze", "telecom_customer_subscription")
    assert allowed(
        "AnalystRole", "athena:StartQueryExecution", "arn:aws:athena:us-east-1:123456789012:workgroup/lakehouse"
    )
    assert not allowed(
        "AnalystRole", "athena:StartQueryExecution", "arn:aws:athena:us-east-1:123456789012:workgroup/lakehouse-finance"
    )
    finance_results = "arn:aws:s3:::bucket/athena-results/lakehouse-finance/q.csv"
    assert not allowed("AnalystRole", "s3:GetObject", finance_results)  # finance results stay with finance
    assert allowed("FinanceRole", "s3:GetObject", finance_results)
