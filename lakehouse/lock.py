"""One lakehouse process per state directory.

Embedded Derby lets a single JVM open the metastore, and the exactly-once protocol assumes a single
writer. The lock is an OS advisory lock (``flock``) on ``$LAKEHOUSE_HOME/lakehouse.lock``: the kernel
releases it when the holder dies, even by ``kill -9``, so a stale lock can never block a re-run.
The file also records who holds it and whether they released it: a run that finds an unreleased
record was preceded by one that died (the CLI says so; ingestion rolls its batch back).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path


class LockBusy(Exception):
    """Another live process holds the state directory."""


def _read(path: Path) -> dict:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder(path: Path) -> str:
    info = _read(path)
    if not info:
        return "another process"
    return describe(info)


def describe(info: dict) -> str:
    return f"pid {info.get('pid', '?')} ({info.get('command', '?')}, since {info.get('since', '?')})"


@contextmanager
def state_lock(path: Path, command: str, wait_seconds: float = 0.0):
    """Hold the lock for the duration of the block; wait up to ``wait_seconds`` for it.

    Yields the record of the previous holder if it died without releasing the lock, else None.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"{path.parent} is in use by {_holder(path)}; wait for it to finish or pass --wait SECONDS"
                    ) from None
                time.sleep(0.5)
        previous = _read(path)
        died = previous if previous and not previous.get("released") else None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        mine = {"pid": os.getpid(), "command": command, "since": since}
        _write(handle, mine)
        try:
            yield died
        finally:  # any exit the process survives (errors, Ctrl-C) releases; only a killed one does not
            _write(handle, {**mine, "released": True})
    finally:
        handle.close()  # closing the descriptor releases the flock


def _write(handle, info: dict) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(info))
    handle.flush()
