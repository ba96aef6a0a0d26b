"""`lakehouse run --notify`, `history` and `watch` without Spark: the webhook's failure modes (an error
answer, nothing listening, too slow) never fail the caller; history's figures from real run reports;
an idle watcher stopped by Ctrl-C exits 0. The runs themselves: tests/e2e/test_run_ux.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingestion.config import ConfigError
from ingestion.ingest import IngestReport, SourceReport
from lakehouse.dbt_runner import DbtOutcome, NodeResult
from lakehouse.history import history_rows
from lakehouse.notify import check_url, notify_webhook, post_report
from lakehouse.report import write_run_report
from lakehouse.watch import arrived, landing_snapshot, older_than_last_run
from tests.conftest import REPO


class Webhook:
    """A local http.server that records every POST; answers ``status`` after ``delay`` seconds."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.path, dict(self.headers), body))
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def report(tmp_path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"command": "run", "exit_code": 0}))
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_notify_posts_the_report_as_json(report, capsys):
    hook = Webhook()
    try:
        notify_webhook(hook.url, report)
    finally:
        hook.close()
    [(path, headers, body)] = hook.received
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"command": "run", "exit_code": 0}
    assert capsys.readouterr().out == f"notified {hook.url}\n"


@pytest.mark.parametrize("failure", ["error", "unreachable", "slow"])
def test_a_failing_webhook_is_one_warning_line(report, capsys, failure):
    hook = Webhook(status=500) if failure == "error" else Webhook(delay=3) if failure == "slow" else None
    url = hook.url if hook else f"http://127.0.0.1:{closed_port()}/hook"
    started = time.monotonic()
    try:
        assert post_report(url, report, timeout=0.5) is not None
        notify_webhook(url, report, timeout=0.5)  # never raises
    finally:
        if hook:
            hook.close()
    assert time.monotonic() - started < 2.5  # the slow one was given up on (0.5 s timeout, twice)
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"warning: --notify {url}: the run report was not delivered (")
    assert line.endswith("the run itself is unaffected")
    expected = {"error": "(HTTP 500", "unreachable": "refused", "slow": "no answer within 0.5s"}[failure]
    assert expected in line


def test_notify_url_is_checked_before_any_work():
    assert check_url(None) is None and check_url("https://hooks.example/x") == "https://hooks.example/x"
    for bad in ("ftp://example/x", "hooks.example/x", "http:/x"):
        with pytest.raises(ConfigError, match="http:// or https:// URL"):
            check_url(bad)


def test_history_from_run_reports(tmp_path):
    runs = tmp_path / "runs"
    ingest = IngestReport(batch_id=3, sources={"a": SourceReport(2, 1, 1, 30, 4), "b": SourceReport(1, 0, 0, 5, 0)})
    nodes = [
        NodeResult("m1", "model", "success"),
        NodeResult("m2", "model", "error"),
        NodeResult("s", "seed", "success"),
        NodeResult("t1", "test", "warn"),
        NodeResult("t2", "test", "pass"),
    ]
    write_run_report(runs, "run", ingest, DbtOutcome(["build"], False, nodes), 1, 61.4)
    time.sleep(0.01)
    write_run_report(runs, "ingest", IngestReport(), None, 0)
    (runs / "zzz-broken.json").write_text("{not json")  # skipped, not fatal
    first, second = history_rows(runs, 5)
    assert first[1:] == ("run", 1, "61s", 3, 35, 4, "2/3", 2)  # warnings: 1 test warned + 1 file rejected
    assert second[1:] == ("ingest", 0, "?", 0, 0, 0, "-", 0)
    assert history_rows(runs, 1) == [second]
    assert history_rows(tmp_path / "none", 3) == []


def test_landing_snapshot_news(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("1")
    seen = landing_snapshot(tmp_path)
    assert list(seen) == ["a/x.csv"]
    (tmp_path / "a" / "y.csv").write_text("2")
    os.utime(tmp_path / "a" / "x.csv", ns=(1, 1))
    assert arrived(landing_snapshot(tmp_path), seen) == ["a/x.csv", "a/y.csv"]
    (tmp_path / "a" / "x.csv").unlink()  # archived by a run: not news
    assert arrived(landing_snapshot(tmp_path), landing_snapshot(tmp_path) | {"a/x.csv": (1, 1)}) == []


def test_a_watcher_starts_from_the_last_run(tmp_path):
    landing, runs = tmp_path / "landing", tmp_path / "runs"
    landing.mkdir()
    (landing / "old.csv").write_text("1")
    os.utime(landing / "old.csv", ns=(10**18, 10**18))
    assert older_than_last_run(landing_snapshot(landing), runs) == {}  # no run yet: everything is news
    (runs / "report.json").parent.mkdir()
    (runs / "report.json").write_text("{}")
    os.utime(runs / "report.json", ns=(2 * 10**18, 2 * 10**18))
    (landing / "new.csv").write_text("2")
    os.utime(landing / "new.csv", ns=(3 * 10**18, 3 * 10**18))
    files = landing_snapshot(landing)
    assert arrived(files, older_than_last_run(files, runs)) == ["new.csv"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_idle_watch_stops_cleanly_on_ctrl_c(tmp_path, signum):
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_LANDING": str(tmp_path / "landing")}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "watch", "--interval", "0.2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout.readline().startswith(f"watching {tmp_path / 'landing'} every 0.2s")
    watcher.send_signal(signum)
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert out == "watch: stopped while idle after 0 run(s)\n" and err == ""
    assert not (tmp_path / "home").exists()  # no run, nothing created


def test_run_refuses_a_notify_url_that_is_not_http_before_any_work(tmp_path):
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_LANDING": str(tmp_path / "landing")}
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "run", "--notify", "ftp://hooks.example/x"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == "error: --notify 'ftp://hooks.example/x': give an http:// or https:// URL\n"
    assert not (tmp_path / "home").exists()
