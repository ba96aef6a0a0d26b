"""Shared by the tests of infra/ and of dbt on AWS: the deploy module, the parsed template, waiting on
executions, the schemas of the project, the warehouse layout, and an evaluator of the template's IAM."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import time
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


@cache
def project_schemas() -> tuple[str, ...]:
    """Every Glue database the project writes: each `+schema` of dbt_project.yml (models and seeds) and
    the databases ingestion writes (bronze tables of the registry, the ledger's meta). Derived, so that
    a schema added to the project cannot be missing from the stack or from the tests."""
    import yaml

    from ingestion.ledger import META_DB
    from ingestion.registry import SOURCES

    def schemas_in(config: Any) -> set[str]:
        if not isinstance(config, dict):
            return set()
        found = {config["+schema"]} if "+schema" in config else set()
        return found.union(*(schemas_in(value) for key, value in config.items() if not key.startswith("+")))

    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    dbt = schemas_in(project.get("models", {})) | schemas_in(project.get("seeds", {}))
    ingestion = {source.table.split(".")[0] for source in SOURCES} | {META_DB}
    return tuple(sorted(dbt | ingestion))


# ---------------------------------------------------------------------------------------------- layout
# ONE layout for every writer on AWS: the files of table <schema>.<table> live under
# warehouse/<schema>/<table>/. The Glue database's LocationUri is warehouse/<schema> (Iceberg's
# GlueCatalog, i.e. ingestion, then writes <LocationUri>/<table>); dbt-glue writes
# `LOCATION '<location>/<schema>/<table>'` with location = <root>/warehouse; dbt-athena with
# s3_data_naming schema_table_unique writes <s3_data_dir>/<schema>/<table>/<uuid> (a fresh folder per
# build, inside the table's folder). IAM grants warehouse/<schema>/* and denies warehouse/gold/<table>*.


def database_key(schema: str) -> str:
    """The S3 key (under the bucket) of a Glue database's LocationUri."""
    return f"warehouse/{schema}"


def table_key(schema: str, table: str) -> str:
    """The S3 key prefix every writer puts a table's files under (a trailing slash)."""
    return f"{database_key(schema)}/{table}/"


@cache
def deploy_module() -> ModuleType:
    """``infra/deploy.py`` (a script, not a package of the project)."""
    spec = importlib.util.spec_from_file_location("infra_deploy", INFRA / "deploy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def template() -> dict[str, Any]:
    """``infra/lakehouse.yaml`` as plain data (intrinsics as ``{"Ref": ...}``/``{"Fn::Sub": ...}`` dicts)."""
    from cfnlint.decode import decode_str

    parsed, problems = decode_str((INFRA / "lakehouse.yaml").read_text())
    assert not problems, problems
    return json.loads(json.dumps(parsed))


def definition_text() -> str:
    return (INFRA / "statemachine" / "pipeline.asl.json").read_text()


def wait_for_execution(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    """The execution once it left RUNNING (moto runs it in a thread of the server)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"execution still RUNNING after {timeout}s"
        time.sleep(0.2)


def history(sfn: Any, arn: str) -> str:
    """An execution's history in short (state names, errors and causes): the message of a failed assertion."""
    lines = []
    for event in sfn.get_execution_history(executionArn=arn)["events"]:
        details = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
        lines.append(" ".join(str(details.get(key, ""))[:300] for key in ("name", "error", "cause")).strip())
        lines[-1] = f"{event['type']} {lines[-1]}"
    return "\n".join(lines)


def placeholders_of_template() -> set[str]:
    """The names the template's DefinitionSubstitutions give the state machine definition."""
    return set(template()["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"])


def invoice_tables() -> list[tuple[str, str]]:
    """(schema, table) of every invoice table, from the registry and the dbt models."""
    from ingestion.registry import SOURCES

    bronze = [("bronze", source.name) for source in SOURCES if source.domain == "invoices"]
    models = [
        (path.parent.parent.name, path.stem)
        for layer in ("silver", "gold")
        for path in sorted((REPO / "models" / layer / "invoices").glob("*.sql"))
    ]
    return bronze + models


# ---------------------------------------------------------------------------------------------- IAM evaluator

FAKE = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "ProjectName": "lakehouse",
    "AthenaWorkgroupName": "lakehouse",
    "DataBucket": "bucket",
    "DataBucket.Arn": "arn:aws:s3:::bucket",
}


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template()["Resources"].items() if body["Type"] == kind}


def properties(name: str) -> dict[str, Any]:
    return template()["Resources"][name]["Properties"]


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


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements_of(role: str) -> list[dict[str, Any]]:
    """Every statement that applies to a role: its inline policies and managed policies naming it."""
    found = [policy["PolicyDocument"] for policy in properties(role).get("Policies", [])]
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        for body in resources(kind).values():
            if {"Ref": role} in body["Properties"].get("Roles", []):
                found.append(body["Properties"]["PolicyDocument"])
    statements = [statement for document in found for statement in document["Statement"]]
    return [
        {
            **statement,
            "Action": as_list(statement["Action"]),
            "Resource": as_list(resolve(statement["Resource"])),
            "Condition": resolve(statement.get("Condition", {})),
        }
        for statement in statements
    ]


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


def listable(role: str, prefix: str) -> bool:
    """Whether a role may list the data bucket under ``prefix`` (its s3:ListBucket prefix conditions)."""
    for statement in statements_of(role):
        if statement["Effect"] != "Allow" or "s3:ListBucket" not in statement["Action"]:
            continue
        if FAKE["DataBucket.Arn"] not in statement["Resource"]:
            continue
        patterns = as_list(statement["Condition"].get("StringLike", {}).get("s3:prefix", ["*"]))
        if any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns):
            return True
    return False


def object_arn(key: str) -> str:
    """The ARN of an object of the data bucket, in the evaluator's names."""
    return f"{FAKE['DataBucket.Arn']}/{key}"
