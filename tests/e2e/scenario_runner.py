"""Play a scenario's steps in this process: ``python -m tests.e2e.scenario_runner`` (from the
repository root) reads the steps as JSON on standard input and prints one result per step, as JSON,
on the line starting with ``SCENARIO-RESULTS`` (see ``tests.e2e.helpers.scenario``).

One process, one JVM for every step: the CLI commands run through the real click entry point, so
state still goes through the warehouse and the ledger on disk between them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

MARKER = "SCENARIO-RESULTS "


def land(landing: Path, files: list[list[str]]) -> None:
    """Copy ``[source file, path relative to landing]`` pairs into the landing zone."""
    for source, relative in files:
        target = landing / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)


def run_command(args: list[str], stdin: str) -> dict[str, Any]:
    """A `lakehouse` command as a shell would run it, in this process: exit code, stdout, stderr."""
    from lakehouse.cli import cli

    out, err = io.StringIO(), io.StringIO()
    sys.stdin = io.StringIO(stdin)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(args, prog_name="lakehouse", standalone_mode=False)
            code: int | str = 0
        except SystemExit as exc:
            code = exc.code or 0
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except Exception:  # noqa: BLE001 - reported to the test as the step's result
            traceback.print_exc()
            code = "exception"
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def run_queries(queries: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """Rows of each query, rendered like ``--format csv`` (null -> "")."""
    from ingestion.config import load_settings
    from ingestion.spark import build_session

    spark = build_session(load_settings())
    answer = {}
    for name, sql in queries.items():
        df = spark.sql(sql)
        answer[name] = [
            {c: ("" if v is None else str(v)) for c, v in zip(df.columns, row, strict=True)} for row in df.collect()
        ]
    return answer


def with_marks(step: dict[str, Any], marks: dict[str, float]) -> dict[str, Any]:
    """``step`` with ``{{mark:NAME}}`` replaced by the UTC moment of the ``{"mark": NAME}`` step (ISO, to the
    millisecond) and ``{{seconds_since:NAME}}`` by the whole seconds since it, rounded up, as ``<N>s``."""
    text = json.dumps(step)
    for name, at in marks.items():
        moment = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        text = text.replace(f"{{{{mark:{name}}}}}", moment)
        text = text.replace(f"{{{{seconds_since:{name}}}}}", f"{math.ceil(time.time() - at)}s")
    return json.loads(text)


def play(steps: list[dict[str, Any]], landing: Path) -> list[Any]:
    results: list[Any] = []
    marks: dict[str, float] = {}
    for step in steps:
        step = with_marks(step, marks)
        if "mark" in step:  # a moment later steps refer to; then an optional pause
            marks[step["mark"]] = time.time()
            time.sleep(step.get("sleep", 0))
            results.append(None)
        elif "land" in step:
            land(landing, step["land"])
            results.append(None)
        elif "cli" in step:
            results.append(run_command(step["cli"], step.get("stdin", "")))
        elif "call" in step:  # a function of tests.e2e.helpers, e.g. one that edits the home
            from tests.e2e import helpers

            results.append(getattr(helpers, step["call"])(*step.get("args", [])))
        else:
            results.append(run_queries(step["query"]))
    return results


def main() -> None:
    results = play(json.load(sys.stdin), Path(os.environ["LAKEHOUSE_LANDING"]))
    print(MARKER + json.dumps(results), file=sys.__stdout__)


if __name__ == "__main__":
    main()
