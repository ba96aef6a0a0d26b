"""``lakehouse history``: the last runs, one line each, from the run reports under ``runs/`` (no
Spark: it reads the JSON files ``lakehouse.report.write_run_report`` wrote)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakehouse.output import echo, format_table

COLUMNS = ["finished (UTC)", "command", "exit", "duration", "files", "rows", "quarantined", "models", "warnings"]
BUILT = {"model", "seed", "snapshot"}


def history_rows(runs_dir: Path, last: int) -> list[tuple[Any, ...]]:
    """One row per run report, the ``last`` newest, oldest first (unreadable reports are skipped)."""
    paths = sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []
    rows = []
    for path in reversed(paths):
        if len(rows) == last:
            break
        try:
            rows.append(history_row(json.loads(path.read_text())))
        except (OSError, ValueError, AttributeError, TypeError):
            continue
    return rows[::-1]


def history_row(report: dict[str, Any]) -> tuple[Any, ...]:
    """A run's line: files ingested, rows ingested and quarantined, models built (of those the build
    selected), warnings (dbt tests that warned, files rejected)."""
    sources = ((report.get("ingest") or {}).get("sources") or {}).values()
    nodes = (report.get("dbt") or {}).get("nodes") or []
    models = [n for n in nodes if n.get("resource_type") in BUILT]
    built = sum(1 for n in models if n.get("status") == "success")
    warnings = sum(1 for n in nodes if n.get("status") == "warn") + sum(s.get("files_rejected", 0) for s in sources)
    seconds = report.get("seconds")
    return (
        str(report.get("finished_at", "?"))[:19].replace("T", " "),
        report.get("command", "?"),
        report.get("exit_code", "?"),
        "?" if seconds is None else f"{seconds:.0f}s",
        sum(s.get("files_ingested", 0) for s in sources),
        sum(s.get("rows_ingested", 0) for s in sources),
        sum(s.get("rows_quarantined", 0) for s in sources),
        f"{built}/{len(models)}" if report.get("dbt") else "-",
        warnings,
    )


def show_history(runs_dir: Path, last: int) -> int:
    rows = history_rows(runs_dir, last)
    if not rows:
        echo(f"no run reports yet in {runs_dir}")
        return 0
    echo(format_table(COLUMNS, rows))
    return 0
