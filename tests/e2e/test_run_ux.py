"""Runs that say where they are, on one small telecom home (three runs in all):

1. `lakehouse run --notify URL` under a real pseudo-terminal: rich's live progress (files hashed and
   ingested of total, dbt nodes of total), the final summary, and the report POSTed to a local webhook;
2. `lakehouse watch` with output to a pipe: two bursts of files, exactly one run per burst, plain
   progress lines without escape codes, a failed run (--strict) notified too, Ctrl-C during the second
   run lets it finish and stops cleanly;
3. `lakehouse history` over those runs, and the tables: every file's rows once, nothing doubled.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from tests.conftest import REPO, run_cli
from tests.e2e.helpers import query_csv
from tests.unit.test_run_ux import Webhook

pytestmark = pytest.mark.e2e

SELECT = "+path:models/gold/telecom telecom_plan_types"
"""The telecom models and their seed: the whole telecom pipeline, not the other domains' models."""
HEADER = "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n"
BAD_DAY = HEADER + "9101,Ann,Lee,Prepaid,25,2023-08-01\n9102,Bo,Kim,Prepaid,twenty,2023-08-02\n"
ANSI = re.compile(r"\x1b\[")


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 1200) -> tuple[int, str]:
    """`lakehouse <args>` with a pseudo-terminal (120 columns) as stdin/stdout/stderr: what a user sees."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", *args], stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env
    )
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return child.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


class Lines:
    """A process's stdout lines, read as they come."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(stream), daemon=True).start()

    def wait_for(self, pattern: str, start: int = 0, timeout: float = 1200) -> int:
        """Index of the first line from ``start`` matching ``pattern`` (a regex), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(self.lines[start:], start):
                if re.search(pattern, line):
                    return index
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines)}")


def test_progress_watch_notify_history(tmp_path, shared_datasets):
    home, landing = tmp_path / "home", tmp_path / "landing"
    day = {n: shared_datasets / "telecom" / f"customer_subscription_2023_08_{n}.csv" for n in (21, 22, 23)}
    (landing / "telecom").mkdir(parents=True)
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(landing), "TERM": "xterm"}
    hook = Webhook()
    try:
        # 1. a run on a terminal
        shutil.copy(day[21], landing / "telecom")
        started = time.monotonic()
        code, screen = run_in_terminal(["run", "--select", SELECT, "--notify", hook.url], env)
        print(f"terminal run: {time.monotonic() - started:.0f}s")
        assert code == 0, screen[-3000:]
        assert ANSI.search(screen)  # drawn live by rich
        assert re.search(r"files hashed .*1/1", screen) and re.search(r"files ingested .*1/1.*20 rows", screen)
        # within one drawn line (no escape code, no line break): a frame rich truncated ("…") may lack the
        # counts, and the next bar's "1/1" must not be read as the build's
        uncoloured = re.sub(r"\x1b\[[0-9;]*m", "", screen)
        dbt = [(int(a), int(b)) for a, b in re.findall(r"dbt build [^\x1b\r\n]*?(\d+)/(\d+)", uncoloured)]
        total = dbt[-1][1]
        assert total > 5 and dbt[-1] == (total, total) and any(done < total for done, _ in dbt), dbt
        assert "gold.subscriptions_by_plan" in screen  # the dbt summary, then the final line
        assert re.search(r"OK in \d+s; report: .*-run\.json", screen) and f"notified {hook.url}" in screen

        # 2. watch: two bursts, one run each; Ctrl-C during the second run
        watcher = subprocess.Popen(
            [sys.executable, "-m", "lakehouse.cli", "watch", "--interval", "0.5", "--settle", "2"]
            + ["--select", SELECT, "--strict", "--notify", hook.url],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out = Lines(watcher.stdout)
        out.wait_for(r"^watching ")
        shutil.copy(day[22], landing / "telecom")
        time.sleep(0.7)  # the same burst: less than the settle time apart
        (landing / "telecom" / "customer_subscription_2023_08_25.csv").write_text(BAD_DAY)
        first = out.wait_for(r"^watch: run 1 exited 1")  # --strict: a row was quarantined
        shutil.copy(day[23], landing / "telecom")
        second = out.wait_for(r"files hashed: 1 of 1", first)
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=1200) == 0
        text = "".join(out.lines)
        print(f"watch: {time.monotonic() - started:.0f}s since the first run began")
        assert not ANSI.search(text), text  # a pipe: plain lines only
        assert len(re.findall(r"^watch: run \d+: ", text, re.M)) == 2, text
        assert len(re.findall(r"^(OK|FAILED) in \d+s; report: ", text, re.M)) == 2, text
        assert re.search(r"^watch: run 1: 2 new or changed file\(s\) settled", text, re.M)
        assert "files hashed: 2 of 2" in text and "files ingested: 2 of 2, 12 rows" in text
        assert re.search(r"^\[\s*\d+s\] dbt build: (\d+) of \1 \(", text, re.M)  # plain: the last node
        assert "watch: Ctrl-C: letting the run finish" in "".join(out.lines[second:])
        assert text.rstrip().endswith("watch: stopped after run 2 finished (exit 0): its batch was committed whole")
    finally:
        hook.close()

    # every report was POSTed as it was written, the failed run's too
    reports = sorted((home / "runs").glob("*-run.json"))
    assert [json.loads(body) for _, _, body in hook.received] == [json.loads(p.read_text()) for p in reports]
    assert [json.loads(p.read_text())["exit_code"] for p in reports] == [0, 1, 0]

    # 3. history, and nothing doubled
    history = run_cli("history", "-n", "5", home=home)
    assert history.returncode == 0, history.stderr
    header, _, *rows = history.stdout.splitlines()
    assert header.split()[:3] == ["finished", "(UTC)", "command"]
    figures = [row.split()[2:] for row in rows]  # command, exit, duration, files, rows, quarantined, models, warnings
    assert [f[:2] + f[3:] for f in figures] == [
        ["run", "0", "1", "20", "0", "6/6", "0"],
        ["run", "1", "2", "11", "1", "6/6", "0"],
        ["run", "0", "1", "20", "0", "6/6", "0"],
    ]
    per_file = query_csv(
        home,
        "select _source_file as f, count(*) as n from bronze.telecom_subscriptions group by 1 "
        "union all select concat('quarantine:', _source_file), count(*) from bronze.quarantine group by 1",
    )
    assert {r["f"]: int(r["n"]) for r in per_file} == {
        "telecom/customer_subscription_2023_08_21.csv": 20,
        "telecom/customer_subscription_2023_08_22.csv": 10,
        "telecom/customer_subscription_2023_08_23.csv": 20,
        "telecom/customer_subscription_2023_08_25.csv": 1,
        "quarantine:telecom/customer_subscription_2023_08_25.csv": 1,
    }
