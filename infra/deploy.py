"""Deploy the lakehouse to AWS, or take it down: what `make deploy` and `make destroy` run.

    python infra/deploy.py deploy  [--stack lakehouse] [--param K=V ...] [--params 'K=V "K=V W"'] [--dist dist/aws]
    python infra/deploy.py destroy [--stack lakehouse] [--yes] [--delete-data]

deploy: renders ``lakehouse.yaml`` as compact JSON with the state machine definition,
``statemachine/pipeline.asl.json``, embedded as its ``DefinitionString`` (CloudFormation fills its ``${...}``
from ``DefinitionSubstitutions``), creates or updates the stack, uploads what ``make package`` built under
``<root>/artifacts/`` and prints the outputs. Credentials and region come the way boto3 finds them.

destroy: deletes the stack. The data bucket and its KMS key are kept (``DeletionPolicy: Retain``) unless
``--delete-data``, which deletes every object version and the bucket, then schedules the key's deletion: that is
the lakehouse's data, gone.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError, WaiterError

INFRA = Path(__file__).resolve().parent
TEMPLATE = INFRA / "lakehouse.yaml"
DEFINITION = INFRA / "statemachine" / "pipeline.asl.json"
DEFAULT_STACK = "lakehouse"
DEFAULT_DIST = INFRA.parent / "dist" / "aws"

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

ARTIFACTS = (
    "glue/ingest_job.py",
    "glue/ingestion.zip",
    "glue/dbt_job.py",
    "dbt_project.zip",
)
"""What the Glue jobs run, from what `make package` builds under dist/aws/: uploaded under <root>/artifacts/
with the same paths. (The project wheel is built too, for pip users; no job installs it: its pyspark pin
would replace Glue's own.)"""

ENVIRONMENT = {
    "LAKEHOUSE_S3_ROOT": "S3Root",
    "LAKEHOUSE_ATHENA_WORKGROUP": "AthenaWorkgroup",
    "LAKEHOUSE_GLUE_ROLE_ARN": "GlueRoleArn",
}
"""The project's settings (ingestion/aws.py) and the stack outputs that give them."""

MAX_TEMPLATE_BODY = 51_200
"""CloudFormation's limit for a template passed inline (bigger ones must go through S3)."""


class DeployError(Exception):
    """A deployment problem with a one-line explanation."""


class TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: ``!Ref X`` -> ``{"Ref": "X"}``, ``!Sub s`` -> ``{"Fn::Sub": s}``."""


def _short_form(loader: TemplateLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _short_form)


def load_template(template: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(template.read_text(), Loader=TemplateLoader)  # a SafeLoader plus the short forms


def render_template(template: Path = TEMPLATE, definition: Path = DEFINITION) -> str:
    """The template as deployed, compact JSON: the state machine definition file embedded as its
    ``DefinitionString`` (without its ``Comment`` fields, which are for readers of the repository), under
    CloudFormation's 51,200-byte limit for an inline template body."""
    body = load_template(template)
    machine = body["Resources"]["PipelineStateMachine"]["Properties"]
    asl = without_comments(json.loads(definition.read_text()))
    machine["DefinitionString"] = json.dumps(asl, separators=(",", ":"))
    return json.dumps(body, separators=(",", ":"))


def without_comments(value: Any) -> Any:
    """An ASL document without its ``Comment`` fields."""
    if isinstance(value, dict):
        return {key: without_comments(item) for key, item in value.items() if key != "Comment"}
    if isinstance(value, list):
        return [without_comments(item) for item in value]
    return value


def placeholders(definition: str) -> set[str]:
    """The ``${Name}`` placeholders of a definition (what DefinitionSubstitutions must provide)."""
    return set(PLACEHOLDER.findall(definition))


def substitute(definition: str, values: Mapping[str, Any]) -> str:
    """Fill ``${Name}`` as CloudFormation's DefinitionSubstitutions does (moto ignores them; tests use this)."""
    missing = placeholders(definition) - set(values)
    if missing:
        raise DeployError(f"no value for {', '.join(sorted(missing))}")
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]), definition)


def parse_parameters(pairs: Sequence[str]) -> list[dict[str, str]]:
    parameters = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DeployError(f"--param takes Key=Value, got {pair!r}")
        parameters.append({"ParameterKey": key, "ParameterValue": value})
    return parameters


def stack_status(cfn: Any, stack: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def deploy_stack(
    cfn: Any, stack: str, body: str, parameters: Sequence[Mapping[str, str]] = (), poll_seconds: int = 15
) -> dict[str, str]:
    """Create the stack, or update it (a no-op when nothing changed); its outputs once it is complete."""
    if len(body.encode()) > MAX_TEMPLATE_BODY:
        raise DeployError(f"the rendered template is {len(body.encode())} bytes, over {MAX_TEMPLATE_BODY}")
    status = stack_status(cfn, stack)
    if status == "ROLLBACK_COMPLETE":  # a failed first create cannot be updated
        raise DeployError(f"stack {stack} is ROLLBACK_COMPLETE: run `make destroy`, then deploy again")
    request = {
        "StackName": stack,
        "TemplateBody": body,
        "Parameters": list(parameters),
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    waiter_config = {"Delay": poll_seconds, "MaxAttempts": 240}
    if status is None:
        cfn.create_stack(**request, OnFailure="ROLLBACK")
        waiter = "stack_create_complete"
    else:
        try:
            cfn.update_stack(**request)
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
            print(f"stack {stack}: no changes")
            return stack_outputs(cfn, stack)
        waiter = "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig=waiter_config)
    except WaiterError as error:
        raise DeployError(f"stack {stack} did not deploy ({stack_status(cfn, stack)}); see its events") from error
    return stack_outputs(cfn, stack)


def stack_outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def upload_artifacts(s3: Any, dist: Path, bucket: str) -> list[str]:
    """Upload what `make package` built to s3://bucket/artifacts/<same path>; the keys written."""
    missing = [name for name in ARTIFACTS if not (dist / name).is_file()]
    if missing:
        raise DeployError(f"not in {dist}: {', '.join(missing)} (run `make package`)")
    keys = []
    for name in ARTIFACTS:
        key = f"artifacts/{name}"
        s3.upload_file(str(dist / name), bucket, key)
        keys.append(key)
    return keys


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker in a (versioned) bucket; how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(entries), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": entries[start : start + 1000], "Quiet": True})
        deleted += len(entries)
    return deleted


def deploy(args: argparse.Namespace) -> int:
    session = boto3.session.Session()
    cfn, s3 = session.client("cloudformation"), session.client("s3")
    parameters = parse_parameters([*args.param, *shlex.split(args.params)])
    outputs = deploy_stack(cfn, args.stack, render_template(), parameters)
    keys = upload_artifacts(s3, Path(args.dist), outputs["BucketName"])
    print(f"uploaded {len(keys)} artifacts to s3://{outputs['BucketName']}/artifacts/")
    for key, value in sorted(outputs.items()):
        print(f"{key}: {value}")
    settings = {name: outputs[key] for name, key in ENVIRONMENT.items() if key in outputs}
    print("\nexport " + " ".join(f"{name}={value}" for name, value in settings.items()))
    return 0


def destroy(args: argparse.Namespace) -> int:
    session = boto3.session.Session()
    cfn, s3, kms = session.client("cloudformation"), session.client("s3"), session.client("kms")
    if stack_status(cfn, args.stack) is None:
        print(f"stack {args.stack} does not exist")
        return 0
    bucket = stack_outputs(cfn, args.stack).get("BucketName")
    key = stack_resources(cfn, args.stack).get("DataKey")
    print(f"WARNING: this deletes stack {args.stack}: the jobs, the pipeline, the roles, the Athena workgroups")
    print("and the Glue databases (catalog entries only: the Iceberg files stay in the bucket).")
    if args.delete_data:
        print(f"--delete-data ALSO DELETES s3://{bucket} WITH EVERY FILE AND TABLE IN IT, and schedules its")
        print("KMS key for deletion in 30 days. Nothing of the lakehouse remains.")
    else:
        print(f"The bucket s3://{bucket} and its KMS key are kept (--delete-data deletes them).")
    if not args.yes and input(f"type the stack name ({args.stack}) to go on: ").strip() != args.stack:
        print("nothing deleted")
        return 1
    cfn.delete_stack(StackName=args.stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=args.stack, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    print(f"stack {args.stack} deleted")
    if args.delete_data and bucket:
        print(f"deleted {empty_bucket(s3, bucket)} object versions")
        s3.delete_bucket(Bucket=bucket)
        print(f"bucket {bucket} deleted")
    if args.delete_data and key:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)
        print(f"KMS key {key} scheduled for deletion in 30 days (kms cancel-key-deletion undoes it)")
    return 0


def stack_resources(cfn: Any, stack: str) -> dict[str, str]:
    """Logical id -> physical id of the stack's resources."""
    resources = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for item in page["StackResourceSummaries"]:
            resources[item["LogicalResourceId"]] = item.get("PhysicalResourceId", "")
    return resources


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="create or update the stack and upload the artifacts")
    up.add_argument("--stack", default=DEFAULT_STACK)
    up.add_argument("--param", action="append", default=[], help="a template parameter, Key=Value (repeatable)")
    up.add_argument("--params", default="", help="template parameters in one shell-like line: 'A=b \"C=d e\"'")
    up.add_argument("--dist", default=str(DEFAULT_DIST), help="what `make package` built")
    up.set_defaults(run=deploy)
    down = commands.add_parser("destroy", help="delete the stack (the data bucket is kept unless --delete-data)")
    down.add_argument("--stack", default=DEFAULT_STACK)
    down.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    down.add_argument("--delete-data", action="store_true", help="also delete the data bucket and everything in it")
    down.set_defaults(run=destroy)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DeployError, ClientError, WaiterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
