"""``lakehouse watch``: run once per burst of landing files.

The landing folder is polled (portable, no OS notification API): a *burst* is any set of new or
changed files; once no file has appeared or changed for ``settle`` seconds, the watcher starts one
``lakehouse run`` (the very same command, in its own process, so an idle watcher holds neither the
state lock nor the metastore: ``query`` and ``status`` work between runs). Runs never overlap: the
watcher starts one at a time, and the run takes the state lock like any other (it waits for a run
started elsewhere). Files that land during a run make the next burst.

Ctrl-C (SIGINT) or SIGTERM while idle stops at once (exit 0). During a run the run is left to finish
(its batch commits whole) and the watcher stops after it; a second Ctrl-C interrupts the run, which
stops where ingestion is crash-safe: an uncommitted batch is rolled back by the next run (exit 130).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ingestion.config import Settings
from lakehouse.errors import INTERRUPTED, OK
from lakehouse.output import echo

Snapshot = dict[str, tuple[int, int]]
RUN_WAIT_SECONDS = 3600.0
"""How long a watcher's run waits for a run started elsewhere to release the home."""


def landing_snapshot(root: Path) -> Snapshot:
    """Every file under ``root``: relative path -> (size, modification time in ns). Symlinked
    folders are not entered (ingestion does not enter them either)."""
    files: Snapshot = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            try:
                stat = path.stat()
            except OSError:  # gone meanwhile (renamed, archived)
                continue
            files[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return files


def arrived(now: Snapshot, seen: Snapshot) -> list[str]:
    """Files new or changed since ``seen`` (a file that disappeared, e.g. archived by a run, is not news)."""
    return sorted(path for path, signature in now.items() if seen.get(path) != signature)


def older_than_last_run(files: Snapshot, runs_dir: Path) -> Snapshot:
    """The files a watcher starting now takes as seen: those not modified since the newest run report
    was written (the others, e.g. files that landed while no watcher ran, are its first burst)."""
    reports = [path.stat().st_mtime_ns for path in runs_dir.glob("*.json")] if runs_dir.is_dir() else []
    last_run = max(reports, default=0)
    return {path: signature for path, signature in files.items() if signature[1] <= last_run}


class Stop:
    """Counts the Ctrl-C's (and SIGTERMs) received; the handler only counts, the loop decides."""

    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.requests += 1


def pause(seconds: float, stop: Stop) -> None:
    """Sleep, waking early when a stop is requested."""
    deadline = time.monotonic() + seconds
    while not stop.requests and time.monotonic() < deadline:
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))


def watch(
    settings: Settings,
    interval: float,
    settle: float,
    run_args: Sequence[str],
    wait: float,
    verbose: bool,
) -> int:
    stop = Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return Watcher(settings, interval, settle, run_args, max(wait, RUN_WAIT_SECONDS), verbose, stop).loop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Watcher:
    def __init__(
        self,
        settings: Settings,
        interval: float,
        settle: float,
        run_args: Sequence[str],
        wait: float,
        verbose: bool,
        stop: Stop,
    ) -> None:
        self.settings, self.interval, self.settle, self.stop = settings, interval, settle, stop
        self.command = [sys.executable, "-m", "lakehouse.cli", "--wait", str(wait)]
        self.command += ["-v"] if verbose else []
        self.command += ["run", *run_args]
        self.runs = 0
        self.interrupted = False

    def loop(self) -> int:
        root = self.settings.landing
        echo(
            f"watching {root} every {self.interval:g}s; a burst of files runs `lakehouse run` once no file has "
            f"changed for {self.settle:g}s (Ctrl-C stops)"
        )
        last, changed_at = landing_snapshot(root), time.monotonic()
        seen = older_than_last_run(last, self.settings.runs_dir)
        while not self.stop.requests:
            pause(self.interval, self.stop)
            if self.stop.requests:
                break
            now = landing_snapshot(root)
            if now != last:
                last, changed_at = now, time.monotonic()
                continue
            new = arrived(now, seen)
            if new and time.monotonic() - changed_at >= self.settle:
                seen = now
                code = self.run(new)
                if self.stop.requests:
                    return self.stopped_during_run(code)
        echo(f"watch: stopped while idle after {self.runs} run(s)")
        return OK

    def run(self, new: list[str]) -> int:
        self.runs += 1
        more = ", ..." if new[1:] else ""
        echo(f"watch: run {self.runs}: {len(new)} new or changed file(s) settled ({new[0]}{more})")
        env = {**os.environ, "LAKEHOUSE_HOME": str(self.settings.home), "LAKEHOUSE_LANDING": str(self.settings.landing)}
        # Its own session: a Ctrl-C on the terminal reaches the watcher only, which decides (see ``wait``).
        child = subprocess.Popen(self.command, env=env, start_new_session=True)
        code = self.wait(child)
        echo(f"watch: run {self.runs} exited {code}; watching again")
        return code

    def wait(self, child: subprocess.Popen) -> int:
        told = False
        while child.poll() is None:
            if self.stop.requests and not told:
                told = True
                echo("watch: Ctrl-C: letting the run finish, then stopping (Ctrl-C again interrupts it)")
            if self.stop.requests > 1 and not self.interrupted:
                self.interrupted = True
                echo("watch: interrupting the run")
                child.send_signal(signal.SIGINT)
            time.sleep(0.1)
        return child.returncode

    def stopped_during_run(self, code: int) -> int:
        if self.interrupted or code == INTERRUPTED:
            echo(
                "watch: stopped; the run was interrupted: nothing half-done is kept (ingestion commits a batch "
                "whole; the next `lakehouse run` rolls back or completes what it left)"
            )
            return INTERRUPTED
        echo(f"watch: stopped after run {self.runs} finished (exit {code}): its batch was committed whole")
        return code
