"""Human summaries and machine-readable run reports (no PII: counts, names, reasons only)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ingestion.ingest import IngestReport
from ingestion.ledger import FileStatus
from ingestion.registry import Source
from lakehouse.dbt_runner import DbtOutcome
from lakehouse.errors import FAILED, OK
from lakehouse.output import echo, error, format_table, json_default

TESTS = {"test", "unit_test"}


def ingest_summary(report: IngestReport) -> str:
    lines = []
    if report.landing_missing:
        lines.append(f"warning: the landing folder {report.landing_missing} does not exist (nothing to ingest)")
    if report.rolled_back:
        batches = ", ".join(map(str, report.rolled_back))
        lines.append(f"recovered: rolled back interrupted batch(es) {batches}; their files are re-ingested")
    title = f"Ingestion (batch {report.batch_id})" if report.batch_id else "Ingestion: no new files"
    rows = [
        (name, s.files_ingested, s.files_duplicate, s.files_rejected, s.rows_ingested, s.rows_quarantined)
        for name, s in report.sources.items()
    ]
    lines += [title, format_table(["source", "files", "duplicates", "rejected", "rows", "quarantined"], rows)]
    for record in report.files:
        if record.status == FileStatus.REJECTED:
            lines.append(f"  REJECTED {record.file_path}: {record.message}")
        elif record.status == FileStatus.DUPLICATE:
            lines.append(f"  skipped  {record.file_path}: {record.message}")
        elif record.rows_quarantined:
            lines.append(
                f"  QUARANTINED {record.rows_quarantined} of {record.rows_read} row(s) of {record.file_path}"
                " (see bronze.quarantine)"
            )
            lines += [f"    {example}" for example in record.examples]
        if record.status == FileStatus.INGESTED and record.message:
            lines.append(f"  note     {record.file_path}: {record.message}")
    if report.archived:
        lines.append(
            f"  archived {len(report.archived)} committed file(s) to the archive folder beside the landing root"
        )
    for path in report.unmatched:
        lines.append(f"  ignored  {path}: matches no source in the registry")
    if report.other_sources:
        lines.append(f"  ignored  {report.other_sources} file(s) of other sources (not selected by --source)")
    for path in report.unsettled:
        lines.append(f"  waiting  {path}: still being written (modified too recently)")
    for path in report.outside:
        lines.append(f"  ignored  {path}: symlink pointing outside the landing root")
    return "\n".join(lines)


def never_arrived_warnings(arrived: set[str], sources: Sequence[Source]) -> list[str]:
    """One warning per source that never had a committed file, in every domain where at least one
    other source did: its models are built without it (e.g. a datamart table not delivered yet)."""
    live_domains = {s.domain for s in sources if s.name in arrived}
    return [
        f"warning: {s.domain}: no file has ever arrived for {s.name} (gold is built without it)"
        for s in sources
        if s.domain in live_domains and s.name not in arrived
    ]


def dbt_summary(outcome: DbtOutcome) -> str:
    verb = next((arg for arg in outcome.command if not arg.startswith("-")), "")
    lines = [f"dbt {verb}".rstrip()]
    built = [n for n in outcome.nodes if n.resource_type in ("model", "seed", "snapshot")]
    if built:
        rows = [(n.relation or n.name, n.resource_type, n.status, n.rows, f"{n.seconds:.1f}s") for n in built]
        lines.append(format_table(["relation", "type", "status", "rows", "time"], rows))
    passed = outcome.count(TESTS, "pass")
    warned = outcome.count(TESTS, "warn")
    failed = outcome.count(TESTS, "fail") + outcome.count(TESTS, "error")
    skipped = sum(1 for n in outcome.nodes if n.status == "skipped")
    lines.append(
        f"tests: {passed} passed, {warned} warned, {failed} failed" + (f", {skipped} skipped" if skipped else "")
    )
    for node in outcome.nodes:
        if node.status in ("warn", "fail", "error"):
            detail = (node.message or "").strip().splitlines()
            lines.append(f"  {node.status.upper():5} {node.name}: {detail[0] if detail else ''}")
    if outcome.error:
        lines.append(f"  ERROR {outcome.error.splitlines()[0]}")
    return "\n".join(lines)


def write_run_report(
    runs_dir: Path,
    command: str,
    ingest: IngestReport | None,
    dbt: DbtOutcome | None,
    exit_code: int,
    seconds: float | None = None,
) -> Path:
    runs_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    payload = {
        "command": command,
        "finished_at": now.isoformat(),
        "seconds": None if seconds is None else round(seconds, 1),
        "exit_code": exit_code,
        "ingest": _ingest_dict(ingest),
        "dbt": asdict(dbt) if dbt else None,
    }
    path = runs_dir / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{command}.json"
    path.write_text(json.dumps(payload, default=json_default, indent=2))
    return path


def last_run(runs_dir: Path) -> str | None:
    """The newest run report, in one line: when, which command, exit code, rows in and quarantined."""
    reports = sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []
    for path in reversed(reports):
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        ingest = payload.get("ingest") or {}
        sources = (ingest.get("sources") or {}).values()
        rows = sum(s.get("rows_ingested", 0) for s in sources)
        quarantined = sum(s.get("rows_quarantined", 0) for s in sources)
        return (
            f"{payload.get('finished_at', '?')} `{payload.get('command', '?')}` exit {payload.get('exit_code', '?')}, "
            f"{rows} row(s) ingested, {quarantined} quarantined ({path.name})"
        )
    return None


def _ingest_dict(report: IngestReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "batch_id": report.batch_id,
        "rolled_back": report.rolled_back,
        "sources": {name: asdict(s) for name, s in report.sources.items()},
        "files": [asdict(f) for f in report.files],
        "unmatched": report.unmatched,
        "unsettled": report.unsettled,
    }


def show_dbt_outcome(outcome: DbtOutcome) -> int:
    """``lakehouse dbt``'s output: the summary, or dbt's one-line error when nothing ran; the exit code."""
    if outcome.nodes:
        echo(dbt_summary(outcome))
    elif outcome.error:
        error(f"dbt: {outcome.error.splitlines()[0]}")
    return FAILED if outcome.failed else OK
