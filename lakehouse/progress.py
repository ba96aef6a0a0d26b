"""``lakehouse run``'s live progress: files hashed and ingested of total, rows, dbt models and tests
built of total, elapsed time.

On a terminal it is drawn by ``rich`` (its ``Progress``; lines printed meanwhile appear above it);
when standard output is not a terminal (CI logs, a pipe) the same milestones are plain lines, without
escape codes. It listens to two hooks and imports nothing of what it watches: ingestion's ``Progress``
callable (``ingestion.ingest.Progress``) and dbt's own event callbacks (``run_dbt(on_event=...)``:
``ConcurrencyLine`` gives the number of nodes the selection runs, ``NodeFinished`` each one done).
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

from ingestion.ingest import HASHED, INGESTED
from lakehouse.output import echo

MODELS = {"model", "seed", "snapshot"}
TESTS = {"test", "unit_test"}
STEPS = {HASHED: "files hashed", INGESTED: "files ingested"}


class RunProgress:
    """Where a run is. ``ingest`` is ingestion's hook, ``dbt_event`` dbt's callback (called from dbt's
    worker threads, hence the lock); use it as a context manager around the run."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.nodes_total: int | None = None
        self.nodes_done = 0
        self.built = {"models": 0, "tests": 0}
        self.bar = None
        self.tasks: dict[str, int] = {}
        if live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            from rich.table import Column

            self.bar = Progress(
                TextColumn("{task.description:<15}"),
                BarColumn(bar_width=30),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[detail]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
                console=Console(file=sys.stdout),
            )

    def __enter__(self) -> RunProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, trace: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()

    # --- the hooks ---------------------------------------------------------------------------------
    def ingest(self, step: str, done: int, total: int, rows: int = 0) -> None:
        """``ingestion.ingest.Progress``: ``step`` is ``HASHED`` or ``INGESTED``."""
        name = STEPS.get(step, step)
        detail = f"{rows:,} rows" if step == INGESTED else ""
        if self.bar is not None:
            self.show(name, done, total, detail)
        elif step != HASHED or done == total:  # plain: hashing once, when it is done
            self.line(f"{name}: {done} of {total}" + (f", {detail}" if detail else ""))

    def dbt_event(self, event) -> None:
        """dbt's callback (``dbtRunner(callbacks=[...])``): an ``EventMsg``."""
        name = event.info.name
        if name == "ConcurrencyLine":
            with self.lock:
                self.nodes_total = int(event.data.node_count)
            if self.bar is not None:
                self.show("dbt build", 0, self.nodes_total, "")
            else:
                self.line(f"dbt build: {self.nodes_total} node(s) selected (models, seeds, tests)")
        elif name == "NodeFinished":
            info = event.data.node_info
            kind = "tests" if info.resource_type in TESTS else "models" if info.resource_type in MODELS else None
            with self.lock:
                self.nodes_done += 1
                if kind:
                    self.built[kind] += 1
                done, total = self.nodes_done, self.nodes_total or self.nodes_done
                counts = f"{self.built['models']} models, {self.built['tests']} tests"
            status = event.data.run_result.status or info.node_status
            if self.bar is not None:
                # the last frame stays short: a long node name would make rich truncate the counts away
                self.show("dbt build", done, total, counts if done == total else f"{counts}; {info.node_name} {status}")
            elif kind != "tests" or done == total or status not in ("pass", "success"):
                self.line(f"dbt build: {done} of {total} ({counts}); {info.resource_type} {info.node_name}: {status}")

    # --- rendering ---------------------------------------------------------------------------------
    def show(self, name: str, done: int, total: int, detail: str) -> None:
        assert self.bar is not None
        with self.lock:
            if name not in self.tasks:
                self.tasks[name] = self.bar.add_task(name, total=total, detail=detail)
        self.bar.update(self.tasks[name], completed=done, total=total, detail=detail)

    def line(self, text: str) -> None:
        echo(f"[{time.monotonic() - self.started:5.0f}s] {text}")


def run_progress(live: bool | None = None) -> RunProgress:
    """Live (rich) when standard output is a terminal, plain lines otherwise."""
    return RunProgress(sys.stdout.isatty() if live is None else live)
