"""infra/ checked without any AWS: cfn-lint and checkov on every template, the state machine definition's
shape, what moto's CloudFormation does not model (Glue databases and jobs, Athena workgroups, bucket
settings, the TLS-only policy, the alarm), and an IAM review of every policy in the template."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infra_support import (
    INFRA,
    REPO,
    allowed,
    database_key,
    definition_text,
    deploy_module,
    invoice_tables,
    listable,
    object_arn,
    placeholders_of_template,
    project_schemas,
    properties,
    resources,
    statements_of,
    table_key,
    template,
)

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
SCHEMAS = project_schemas()


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
    assert set(databases) == set(SCHEMAS) and "intermediate" in SCHEMAS
    for name, body in databases.items():  # GlueCatalog (ingestion) writes <LocationUri>/<table>
        assert body["Properties"]["DatabaseInput"]["LocationUri"] == {
            "Fn::Sub": f"s3://${{DataBucket}}/{database_key(name)}"
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


def can_read(role: str, schema: str, table: str) -> bool:
    """Read through the catalog (Athena, Spark) or straight from the table's files."""
    glue = f"arn:aws:glue:us-east-1:123456789012:table/{schema}/{table}"
    data = object_arn(f"{table_key(schema, table)}data/00000-0.parquet")
    return allowed(role, "glue:GetTable", glue) or allowed(role, "s3:GetObject", data)


def too_broad(statement: dict[str, Any]) -> list[str]:
    """What in an Allow statement grants more than named things: a whole service's actions (``*``,
    ``glue:*``), any account's or any bucket's resources (``arn:aws:s3:::*``, ``arn:aws:glue:*:*:*``), or a
    wildcard action on ``"*"``. A plain ``"*"`` resource with named actions stays allowed: some actions
    take no resource (cloudwatch:PutMetricData, the logs delivery API)."""
    if statement["Effect"] != "Allow":
        return []
    found = [f"action {action}" for action in statement["Action"] if action == "*" or action.endswith(":*")]
    for resource in statement["Resource"]:
        if resource == "*" or resource.startswith("<"):  # "<Name>": a resource of this stack (Ref, GetAtt)
            continue
        parts = resource.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            found.append(f"resource {resource} (not an ARN)")
            continue
        service, account, name = parts[2], parts[4], parts[5]
        if account == "*" or name in ("", "*") or (service == "s3" and name.startswith("*")):
            found.append(f"resource {resource}")
    return found


def test_no_policy_allows_wildcard_actions_or_wildcard_resources():
    for role in resources("AWS::IAM::Role"):
        for statement in statements_of(role):
            assert too_broad(statement) == [], (role, statement.get("Sid"))


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("glue:*", "arn:aws:glue:us-east-1:123456789012:table/gold/*"),
        ("s3:*", "arn:aws:s3:::bucket/warehouse/*"),
        ("*", "arn:aws:s3:::bucket/runs/*"),
        ("s3:GetObject", "arn:aws:s3:::*"),
        ("s3:GetObject", "arn:aws:s3:::*/warehouse/*"),
        ("glue:GetTable", "arn:aws:glue:*:*:*"),
        ("glue:GetTable", "arn:aws:glue:us-east-1:*:table/gold/*"),
        ("glue:GetTable", "arn:aws:glue:us-east-1:123456789012:*"),
        ("glue:*", "*"),
    ],
)
def test_the_wildcard_review_fails_a_planted_bad_policy(action, resource, monkeypatch):
    planted = {"Sid": "Planted", "Effect": "Allow", "Action": action, "Resource": resource}
    body = template()["Resources"]["AnalystRole"]
    document = json.loads(json.dumps(body["Properties"]["Policies"][0]["PolicyDocument"]))
    document["Statement"].append(planted)
    policies = [{**body["Properties"]["Policies"][0], "PolicyDocument": document}]
    monkeypatch.setitem(body, "Properties", {**body["Properties"], "Policies": policies})
    with pytest.raises(AssertionError, match="Planted"):
        test_no_policy_allows_wildcard_actions_or_wildcard_resources()
    monkeypatch.undo()
    test_no_policy_allows_wildcard_actions_or_wildcard_resources()  # the template itself passes


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


def test_every_role_reaches_the_tables_of_its_schemas_under_the_one_layout():
    """Job roles read, write and list exactly their schemas' folders warehouse/<schema>/<table>/."""
    writes = {
        "IngestJobRole": {"bronze", "meta"},
        "DbtJobRole": set(SCHEMAS) - {"bronze", "meta"},
    }
    assert writes["DbtJobRole"] >= {"staging", "intermediate", "silver", "gold", "reference"}
    for role, schemas in writes.items():
        for schema in SCHEMAS:
            key = f"{table_key(schema, 'some_table')}data/00000-0.parquet"
            glue = f"arn:aws:glue:us-east-1:123456789012:table/{schema}/some_table"
            expected = schema in schemas
            assert allowed(role, "s3:PutObject", object_arn(key)) == expected, (role, schema)
            assert allowed(role, "glue:CreateTable", glue) == expected, (role, schema)
            assert listable(role, table_key(schema, "some_table")) == (expected or role == "DbtJobRole"), (role, schema)
        assert allowed(role, "s3:GetObject", object_arn(f"{table_key('bronze', 'x')}metadata/v1.metadata.json"))
    # the old <schema>.db layout is not granted any more: a writer still using it would fail, not leak
    assert not allowed("DbtJobRole", "s3:PutObject", object_arn("warehouse/gold.db/t/data/0.parquet"))
    assert not allowed("IngestJobRole", "s3:PutObject", object_arn("warehouse/bronze.db/t/data/0.parquet"))


def test_the_analyst_deny_covers_the_tables_dbt_builds_beside_an_invoice_table():
    """dbt-athena's <table>__dbt_tmp/__ha/__bkp and dbt-glue's <table>_tmp hold the same rows."""
    features = [table for schema, table in invoice_tables() if schema == "gold"]
    for table in features:
        for name in (table, f"{table}__dbt_tmp", f"{table}__ha", f"{table}__bkp", f"{table}_tmp"):
            assert not can_read("AnalystRole", "gold", name), name
            uuid_folder = f"{table_key('gold', name)}4f0c/data/00000-0.parquet"  # dbt-athena's <uuid> level
            assert not allowed("AnalystRole", "s3:GetObject", object_arn(uuid_folder)), name
            assert can_read("FinanceRole", "gold", name), name
    assert listable("AnalystRole", table_key("gold", "account_datamart"))
    assert not listable("AnalystRole", table_key("silver", "subscriptions"))
