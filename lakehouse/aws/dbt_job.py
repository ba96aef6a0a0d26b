"""The dbt step on AWS: a Glue 5.0 job (the dbt client only) that builds the project and writes the run summary.

Glue runs this file (``make package`` copies it to ``dist/aws/glue/dbt_job.py``) with
``--extra-py-files <artifacts>/glue/ingestion.zip`` (for ``ingestion.run_summary``, standard library only)
and ``--additional-python-modules`` naming the pinned dbt packages (``dbt-core~=1.10.19``,
``dbt-glue==1.10.19``; ``dbt-athena-community==1.11.1`` for ``--target athena``). Job arguments:

| argument | default | meaning |
|---|---|---|
| ``--project_uri`` | required | the dbt project zip (``s3://.../artifacts/dbt_project.zip``) |
| ``--dbt_command`` | ``build`` | the dbt command and its options, e.g. ``build --select silver+`` |
| ``--target`` | ``glue`` | the target of ``profiles/profiles.yml`` in the zip |
| ``--run_id`` | required | the run (the ingestion job's ``--run_id``) |
| ``--report_uri`` | required | ``s3://.../runs/``: reads ``<run_id>/ingest.json``, writes ``<run_id>/summary.json`` |

It downloads and unpacks the project into a temporary folder, runs dbt in-process (``dbtRunner``), and
writes ``summary.json`` (``ingestion.run_summary``: the ingestion counts of ``ingest.json`` merged with
models built, tests passed and warned, the failed step and error). A failed dbt command still writes the
summary, then fails the job. ``awsglue`` is imported only on Glue; elsewhere argparse reads the arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.aws import report_key, split_s3_uri
from ingestion.run_summary import INGEST, SUMMARY, one_line, summary

REQUIRED = ("project_uri", "run_id", "report_uri")
OPTIONAL = {"dbt_command": "build", "target": "glue", "s3_root": "", "glue_role_arn": ""}
PROFILE_ENV = {"s3_root": "LAKEHOUSE_S3_ROOT", "glue_role_arn": "LAKEHOUSE_GLUE_ROLE_ARN"}
"""Job arguments the profiles read from the environment (a Glue job sets no LAKEHOUSE_* variable)."""
FAILED = {"error", "fail", "runtime error"}


@dataclass(frozen=True)
class DbtJobArgs:
    project_uri: str
    run_id: str
    report_uri: str
    dbt_command: str = "build"
    target: str = "glue"
    s3_root: str = ""
    glue_role_arn: str = ""

    def profile_env(self) -> dict[str, str]:
        """The environment the glue/athena profiles read: the bucket root and the sessions' role."""
        return {env: getattr(self, name) for name, env in PROFILE_ENV.items() if getattr(self, name)}


def parse_args(argv: list[str]) -> DbtJobArgs:
    """``argv`` as Glue passes it (script first); unknown arguments (Glue's own) are ignored."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog="dbt_job")
        for name in REQUIRED:
            parser.add_argument(f"--{name}", required=True)
        for name, default in OPTIONAL.items():
            parser.add_argument(f"--{name}", default=default)
        values = vars(parser.parse_known_args(argv[1:])[0])
    else:  # pragma: no cover - only on AWS Glue
        names = [*REQUIRED, *(name for name in OPTIONAL if f"--{name}" in argv)]
        values = {**OPTIONAL, **getResolvedOptions(argv, names)}
    if not shlex.split(values["dbt_command"]):
        raise SystemExit("--dbt_command must name a dbt command")
    if values["s3_root"]:
        split_s3_uri(values["s3_root"])
    return DbtJobArgs(**values)


def unpack_project(client: Any, project_uri: str, dest: Path) -> Path:
    """Download the project zip and unpack it; the folder holding ``dbt_project.yml``."""
    bucket, key = split_s3_uri(project_uri)
    archive = dest / "dbt_project.zip"
    client.download_file(bucket, key, str(archive))
    root = (dest / "project").resolve()
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            if not (root / member).resolve().is_relative_to(root):
                raise SystemExit(f"{project_uri}: refusing to unpack {member!r} outside the project folder")
        zipped.extractall(root)
    found = sorted(root.glob("dbt_project.yml")) or sorted(root.glob("*/dbt_project.yml"))
    if not found:
        raise SystemExit(f"{project_uri} holds no dbt_project.yml")
    return found[0].parent


def run_dbt(
    project_dir: Path, command: str, target: str, work_dir: Path, profile_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``dbt <command> --target <target>`` in-process (``profile_env``: what the profile reads, e.g. the
    S3 root): models built, tests passed and warned, and an error line when dbt failed or a node failed."""
    from dbt.cli.main import dbtRunner

    os.environ.update(
        {
            **(profile_env or {}),
            "DBT_TARGET_PATH": str(work_dir / "target"),
            "DBT_LOG_PATH": str(work_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    # The glue profile reads its sessions' Spark settings from here (ingestion/spark.py, stdlib only).
    from ingestion.aws import AwsSettings
    from ingestion.spark import dbt_glue_spark_conf, glue_conf_argument

    os.environ.setdefault("LAKEHOUSE_GLUE_SPARK_CONF", glue_conf_argument(dbt_glue_spark_conf(AwsSettings.from_env())))
    words = shlex.split(command)
    args = [*words, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir / "profiles")]
    args += ["--target", target]
    result = dbtRunner().invoke(args)
    statuses = [
        (item.node.unique_id, str(_value(item.node.resource_type)), str(_value(item.status)))
        for item in getattr(result.result, "results", None) or []
    ]
    failed = [(name, status) for name, _, status in statuses if status in FAILED]
    error = None
    if failed:
        listed = ", ".join(f"{name} ({status})" for name, status in failed[:5])
        error = f"dbt {words[0]}: {len(failed)} node(s) failed: {listed}" + (" ..." if len(failed) > 5 else "")
    elif not result.success:
        error = f"dbt {words[0]}: " + (one_line(result.exception) if result.exception else "failed")
    return {
        "models": sum(1 for _, kind, status in statuses if kind == "model" and status == "success"),
        "tests": sum(1 for _, kind, status in statuses if kind in ("test", "unit_test") and status == "pass"),
        "test_warnings": sum(1 for _, kind, status in statuses if kind in ("test", "unit_test") and status == "warn"),
        "error": error,
    }


def _value(member: Any) -> Any:
    """An enum's value (dbt's node types and statuses are string enums), else the object."""
    return getattr(member, "value", member)


def read_ingest_report(client: Any, report_uri: str, run_id: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    bucket, key = report_key(report_uri, run_id, INGEST)
    try:
        return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def run_job(args: DbtJobArgs, client: Any, work_dir: Path) -> dict[str, Any]:
    """Unpack, build, and write ``summary.json``; returns it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    ingest = read_ingest_report(client, args.report_uri, args.run_id)
    try:
        project = unpack_project(client, args.project_uri, work_dir)
        dbt = run_dbt(project, args.dbt_command, args.target, work_dir, args.profile_env())
        result = summary(args.run_id, ingest, dbt)
    except (Exception, SystemExit) as exc:
        result = summary(args.run_id, ingest, error=one_line(exc), failed_step="dbt")
    bucket, key = report_key(args.report_uri, args.run_id, SUMMARY)
    body = json.dumps(result, indent=2).encode()
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    print(f"run {args.run_id} {result['status']}: s3://{bucket}/{key}")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:  # pragma: no cover - runs on AWS Glue
    import boto3

    args = parse_args(sys.argv if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="lakehouse-dbt-") as work_dir:
        result = run_job(args, boto3.client("s3"), Path(work_dir))
    if result["status"] != "succeeded":
        raise RuntimeError(f"run {args.run_id} failed at {result['failed_step']}: {result['error']}")
    return result


if __name__ == "__main__":  # pragma: no cover
    main()
