"""AWS settings: one place, every value from an environment variable with a documented default.

No secrets: credentials come the way boto3 finds them (environment, profile, instance role), and boto3
itself honours ``AWS_ENDPOINT_URL`` (the tests point it at a local moto server). Everything the project
keeps on S3 lives under one root, ``LAKEHOUSE_S3_ROOT`` (``s3://bucket/prefix``)::

    <root>/landing/         raw files as delivered (the Glue ingestion job reads them)
    <root>/archive/         files of archiving sources, moved after their batch committed
    <root>/warehouse/       Iceberg tables, one folder per table: <schema>/<table>/
    <root>/athena-results/  Athena query results
    <root>/artifacts/       what `make package` builds (Glue scripts, the wheel, the dbt project)
    <root>/runs/            run reports (JSON), as under $LAKEHOUSE_HOME/runs locally

| variable | default | what |
|---|---|---|
| ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) | ``us-east-1`` | region of every client |
| ``LAKEHOUSE_S3_ROOT`` | ``s3://incremental-lakehouse`` | the root above |
| ``LAKEHOUSE_GLUE_ROLE_ARN`` | empty | role of Glue jobs and interactive sessions (needed to run on Glue) |
| ``LAKEHOUSE_ATHENA_WORKGROUP`` | ``lakehouse`` | Athena workgroup (the stack in ``infra/`` creates it) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ingestion.config import ConfigError

DEFAULT_REGION = "us-east-1"
DEFAULT_S3_ROOT = "s3://incremental-lakehouse"
DEFAULT_ATHENA_WORKGROUP = "lakehouse"

PREFIXES = ("landing", "archive", "warehouse", "athena-results", "artifacts", "runs")
"""The folders under the S3 root, in the order of the data path."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> (``bucket``, ``some/key``); a clear error for anything else."""
    if not uri.startswith("s3://") or len(uri) <= len("s3://") or uri[len("s3://")] == "/":
        raise ConfigError(f"not an S3 URI (expected s3://bucket/prefix): {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def report_key(report_uri: str, run_id: str, name: str) -> tuple[str, str]:
    """(bucket, key) of ``<report_uri>/<run_id>/<name>``."""
    bucket, prefix = split_s3_uri(report_uri)
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/{run_id}/{name}" if prefix else f"{run_id}/{name}"


@dataclass(frozen=True)
class AwsSettings:
    region: str
    s3_root: str
    glue_role_arn: str
    athena_workgroup: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsSettings:
        env = os.environ if env is None else env
        root = env.get("LAKEHOUSE_S3_ROOT") or DEFAULT_S3_ROOT
        split_s3_uri(root)  # validates
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            s3_root=root.rstrip("/"),
            glue_role_arn=env.get("LAKEHOUSE_GLUE_ROLE_ARN", ""),
            athena_workgroup=env.get("LAKEHOUSE_ATHENA_WORKGROUP") or DEFAULT_ATHENA_WORKGROUP,
        )

    def uri(self, prefix: str) -> str:
        """The S3 URI of one of the root's folders (``PREFIXES``), with a trailing slash."""
        if prefix not in PREFIXES:
            raise ValueError(f"unknown S3 folder {prefix!r}; one of {', '.join(PREFIXES)}")
        return f"{self.s3_root}/{prefix}/"

    @property
    def bucket(self) -> str:
        return split_s3_uri(self.s3_root)[0]
