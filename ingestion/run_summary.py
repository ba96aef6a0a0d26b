"""The run summary on AWS: one JSON document per run, ``<report_uri>/<run_id>/summary.json``.

The deployment's state machine reads it (S3 GetObject) and publishes it to SNS as is, so its keys are a
contract. Counts, file names and reasons only, never row contents (PII)::

    {
      "run_id": "2026-11-27T06-00-00",        # the run (Step Functions execution name)
      "status": "succeeded" | "failed",
      "files": {"ingested": 3, "duplicate": 1, "rejected": 1},   # landing files this run recorded
      "rows": 1250,                           # rows written to bronze
      "quarantined": 2,                       # rows written to bronze.quarantine
      "rejected": [{"source": "...", "file": "telecom/x.csv", "reason": "..."}],   # one per rejected file
      "models": 41,                           # dbt models built successfully
      "tests": 180,                           # dbt tests passed
      "test_warnings": 2,                     # dbt tests that warned
      "failed_step": null | "ingest" | "dbt", # the first step that failed
      "error": null | "one line"              # why
    }

The ingestion job writes its part, ``ingest.json`` (the same ingestion keys plus details: batches,
archived, unmatched), and ``summary.json`` only when it fails (so a failed run still has a summary);
the dbt job writes ``summary.json`` from ``ingest.json`` of the same run and its own results. Standard
library only: the dbt job imports it without Spark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SUMMARY = "summary.json"
INGEST = "ingest.json"
SUMMARY_KEYS = (
    "run_id",
    "status",
    "files",
    "rows",
    "quarantined",
    "rejected",
    "models",
    "tests",
    "test_warnings",
    "failed_step",
    "error",
)
FILE_STATUSES = ("ingested", "duplicate", "rejected")


def one_line(exc: BaseException, limit: int = 500) -> str:
    """An exception as one line: its first line, with the second when the first is only a title
    (dbt: ``Compilation Error`` then the reason)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = f"{lines[0]}: {lines[1]}" if len(lines) > 1 and len(lines[0]) < 40 else lines[0]
    return text[:limit]


def ingest_part(run_id: str, reports: Sequence[Any], strict: bool, error: str | None = None) -> dict[str, Any]:
    """``ingest.json`` from the ``IngestReport`` objects of one run.

    ``status`` is ``failed`` when the ingestion raised (``error``), or with ``strict`` when a row was
    quarantined or a file rejected; ``failed_step`` is then ``ingest``."""
    records = [record for report in reports for record in report.files]
    files = {status: sum(1 for r in records if r.status == status) for status in FILE_STATUSES}
    quarantined = sum(r.rows_quarantined for r in records if r.status == "ingested")
    rejected = [
        {"source": r.source, "file": r.file_path, "reason": r.message} for r in records if r.status == "rejected"
    ]
    if error is None and strict and (quarantined or rejected):
        error = f"--strict: {quarantined} row(s) quarantined and {len(rejected)} file(s) rejected"
    return {
        "run_id": run_id,
        "status": "failed" if error else "succeeded",
        "failed_step": "ingest" if error else None,
        "error": error,
        "files": files,
        "rows": sum(r.rows_ingested for r in records if r.status == "ingested"),
        "quarantined": quarantined,
        "rejected": rejected,
        "batches": [report.batch_id for report in reports if report.batch_id is not None],
        "rolled_back": [batch for report in reports for batch in report.rolled_back],
        "archived": sum(len(report.archived) for report in reports),
        "unmatched": sorted({path for report in reports for path in report.unmatched}),
    }


def summary(
    run_id: str,
    ingest: dict[str, Any] | None,
    dbt: dict[str, Any] | None = None,
    error: str | None = None,
    failed_step: str | None = None,
) -> dict[str, Any]:
    """The run summary from ``ingest.json`` (None: no ingestion report) and the dbt part (``models``,
    ``tests``, ``test_warnings``, ``error``; None: dbt did not run). The first failure wins."""
    ingest = ingest or {}
    dbt = dbt or {}
    steps = [
        (ingest.get("failed_step"), ingest.get("error")),
        ("dbt" if dbt.get("error") else None, dbt.get("error")),
        (failed_step, error),
    ]
    failed = next(((step, text) for step, text in steps if step), (None, None))
    files = ingest.get("files") or {}
    return {
        "run_id": run_id,
        "status": "failed" if failed[0] else "succeeded",
        "files": {status: int(files.get(status, 0)) for status in FILE_STATUSES},
        "rows": int(ingest.get("rows", 0)),
        "quarantined": int(ingest.get("quarantined", 0)),
        "rejected": list(ingest.get("rejected", [])),
        "models": int(dbt.get("models", 0)),
        "tests": int(dbt.get("tests", 0)),
        "test_warnings": int(dbt.get("test_warnings", 0)),
        "failed_step": failed[0],
        "error": failed[1],
    }
