"""One lakehouse process per state directory.

Embedded Derby lets a single JVM open the metastore, and the exactly-once protocol assumes a single
writer. The lock is an OS advisory lock (``flock``) on ``$LAKEHOUSE_HOME/lakehouse.lock``: the kernel
releases it when the holder dies, even by ``kill -9``, so a stale lock can never block a re-run.
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


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"pid {info.get('pid', '?')} ({info.get('command', '?')}, since {info.get('since', '?')})"


@contextmanager
def state_lock(path: Path, command: str, wait_seconds: float = 0.0):
    """Hold the lock for the duration of the block; wait up to ``wait_seconds`` for it."""
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
        handle.seek(0)
        handle.truncate()
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        handle.write(json.dumps({"pid": os.getpid(), "command": command, "since": since}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the flock
