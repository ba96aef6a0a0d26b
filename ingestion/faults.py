"""Crash points for the exactly-once tests.

``LAKEHOUSE_KILL_AT=<point>`` makes the process SIGKILL itself (no cleanup, no finally blocks, the
same as ``kill -9``) when it reaches ``checkpoint(<point>)``. Unset, a checkpoint does nothing.
Besides the ingestion points below, ``dbt_node:<n>`` fires when the n-th dbt node has finished.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "after_batch_started",
    "after_bronze_append",
    "after_quarantine_append",
    "after_ledger_commit",
)


def checkpoint(point: str) -> None:
    if os.environ.get("LAKEHOUSE_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
