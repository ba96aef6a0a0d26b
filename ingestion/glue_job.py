"""The AWS Glue (5.0, Spark) entry point of the ingestion: the same code as ``lakehouse ingest``, on S3.

Glue runs this file (``make package`` copies it to ``dist/aws/glue/ingest_job.py``) with the ``ingestion``
package on ``--extra-py-files`` (``ingestion.zip``) and ``--datalake-formats iceberg``. Job arguments:

| argument | meaning |
|---|---|
| ``--landing_uri`` | the S3 landing root, ``s3://bucket/prefix/landing/`` (archive goes to ``.../archive/``) |
| ``--warehouse_uri`` | the Iceberg warehouse, ``s3://bucket/prefix/warehouse/`` |
| ``--sources`` | optional: registry source names, comma separated, or ``all`` (default: every source) |
| ``--strict`` | optional: ``true`` fails the job when a row was quarantined or a file rejected (default ``false``) |
| ``--run_id`` | the run's id (the Step Functions execution name): the report's folder |
| ``--report_uri`` | where run reports go, ``s3://bucket/prefix/runs/``: writes ``<report_uri>/<run_id>/ingest.json`` |

``ingest.json`` is the ingestion part of the run summary (``ingestion.run_summary``); when the job fails it
also writes ``summary.json``, so a run that stops here still has one.

The session (``ingestion.spark.build_glue_session``) puts the Glue Data Catalog behind Spark's session
catalog, so ``bronze.<source>``, ``bronze.quarantine`` and the ledger ``meta.ingest_*`` are the same tables
and the same exactly-once protocol (``ingestion.ledger``) as locally, stored under the warehouse URI.
New landing objects are downloaded to local disk for the file checks (hash, encoding, header); Spark reads
them from S3 (``ingestion.landing_s3``). ``awsglue`` is imported only when the job runs on Glue; elsewhere
the arguments are read with argparse, so the job can run and be tested anywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.aws import report_key, split_s3_uri
from ingestion.config import ConfigError, Settings
from ingestion.registry import SOURCES, Source, get_source
from ingestion.run_summary import INGEST, SUMMARY, ingest_part, one_line, summary

log = logging.getLogger("lakehouse.glue_job")

REQUIRED = ("landing_uri", "warehouse_uri", "run_id", "report_uri")
OPTIONAL = {"sources": "", "strict": "false"}


@dataclass(frozen=True)
class JobArgs:
    landing_uri: str
    warehouse_uri: str
    run_id: str
    report_uri: str
    sources: tuple[str, ...] = ()
    """Empty: every source of the registry."""
    strict: bool = False


def parse_args(argv: Sequence[str], registry: tuple[Source, ...] = SOURCES) -> JobArgs:
    """The job arguments (``argv`` as Glue passes them, ``sys.argv`` with the script first): through
    ``awsglue.utils.getResolvedOptions`` on Glue, else argparse; unknown arguments (Glue adds its own) pass."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog="ingest_job", description=__doc__.split("\n")[0])
        for name in REQUIRED:
            parser.add_argument(f"--{name}", required=True)
        for name, default in OPTIONAL.items():
            parser.add_argument(f"--{name}", default=default)
        values = vars(parser.parse_known_args(list(argv[1:]))[0])
    else:  # pragma: no cover - only on AWS Glue
        names = [*REQUIRED, *(name for name in OPTIONAL if f"--{name}" in argv)]
        values = {**OPTIONAL, **getResolvedOptions(list(argv), names)}
    return job_args(values, registry)


def job_args(values: dict[str, str], registry: tuple[Source, ...] = SOURCES) -> JobArgs:
    """Validate raw argument values: S3 URIs, known source names, a true/false ``strict``."""
    for name in ("landing_uri", "warehouse_uri", "report_uri"):
        split_s3_uri(values[name])
    if not values["run_id"] or "/" in values["run_id"]:
        raise ConfigError(f"--run_id must be a non-empty name without '/', got {values['run_id']!r}")
    strict = str(values.get("strict") or "false").strip().lower()
    if strict not in ("true", "false"):
        raise ConfigError(f"--strict must be true or false, got {values['strict']!r}")
    # `all` (the template's default) or nothing: every source of the registry
    names = [name.strip() for name in (values.get("sources") or "").split(",") if name.strip()]
    sources = () if names in ([], ["all"]) else tuple(names)
    for name in sources:
        try:
            get_source(name, registry)
        except KeyError as exc:
            raise ConfigError(exc.args[0]) from None
    return JobArgs(
        landing_uri=values["landing_uri"],
        warehouse_uri=values["warehouse_uri"],
        run_id=values["run_id"],
        report_uri=values["report_uri"],
        sources=sources,
        strict=strict == "true",
    )


def put_json(client: Any, report_uri: str, run_id: str, name: str, payload: dict[str, Any]) -> str:
    bucket, key = report_key(report_uri, run_id, name)
    body = json.dumps(payload, indent=2, default=str).encode()
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return f"s3://{bucket}/{key}"


def run_ingestion(
    spark: Any,
    args: JobArgs,
    work_dir: Path,
    client: Any = None,
    spark_reads_s3: bool = True,
    registry: tuple[Source, ...] = SOURCES,
) -> dict[str, Any]:
    """Ingest every new object of ``args.landing_uri`` with the registry's sources (or ``args.sources``,
    one batch each), then write ``ingest.json``. A failure (an exception, or ``--strict``) is reported
    there and in ``summary.json``; an exception is then raised again."""
    from ingestion.ingest import ingest
    from ingestion.landing_s3 import S3Landing, s3_client

    client = client if client is not None else s3_client()
    settings = Settings(home=work_dir, landing=work_dir / "landing-cache", landing_uri=args.landing_uri)
    reports: list[Any] = []
    try:
        landing = S3Landing(args.landing_uri, cache=settings.landing, client=client, spark_reads_s3=spark_reads_s3)
        for only in args.sources or (None,):
            reports.append(ingest(spark, settings, registry, only=only, landing=landing))
    except Exception as exc:
        payload = ingest_part(args.run_id, reports, False, one_line(exc))
        put_json(client, args.report_uri, args.run_id, INGEST, payload)
        put_json(client, args.report_uri, args.run_id, SUMMARY, summary(args.run_id, payload))
        raise
    payload = ingest_part(args.run_id, reports, args.strict)
    where = put_json(client, args.report_uri, args.run_id, INGEST, payload)
    if payload["status"] != "succeeded":
        put_json(client, args.report_uri, args.run_id, SUMMARY, summary(args.run_id, payload))
    log.info("ingestion %s: %s; report %s", payload["status"], payload["files"], where)
    return payload


class JobFailed(RuntimeError):
    """The ingestion finished but the run must fail (``--strict`` with quarantined rows or rejected files)."""


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:  # pragma: no cover - runs on AWS Glue
    from ingestion.spark import build_glue_session

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv if argv is None else argv)
    spark = build_glue_session(args.warehouse_uri)
    with tempfile.TemporaryDirectory(prefix="lakehouse-") as work_dir:
        payload = run_ingestion(spark, args, Path(work_dir))
    if payload["status"] != "succeeded":
        raise JobFailed(payload["error"])
    return payload


if __name__ == "__main__":  # pragma: no cover
    main()
