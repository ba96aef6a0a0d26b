"""The CLI's contract: exit codes and messages (no JVM needed for these)."""

from __future__ import annotations

import fcntl

from tests.conftest import run_cli


def test_unknown_source_is_bad_usage(tmp_path):
    result = run_cli("ingest", "--source", "nope", home=tmp_path / "home", landing=tmp_path)
    assert result.returncode == 2
    assert "unknown source 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_argument_and_bad_format_are_bad_usage(tmp_path):
    assert run_cli("query", home=tmp_path).returncode == 2
    assert run_cli("query", "select 1", "--format", "xml", home=tmp_path).returncode == 2


def test_home_that_is_a_file_is_bad_config(tmp_path):
    home = tmp_path / "file"
    home.write_text("x")
    result = run_cli("status", home=home)
    assert result.returncode == 2
    assert "not a directory" in result.stderr


def test_second_run_is_refused_while_the_state_directory_is_in_use(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with open(home / "lakehouse.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_cli("run", home=home, landing=tmp_path)
    assert result.returncode == 1
    assert "is in use by" in result.stderr and "--wait" in result.stderr
    assert "Traceback" not in result.stderr


def test_sources_lists_the_registry(tmp_path):
    result = run_cli("sources", home=tmp_path)
    assert result.returncode == 0
    assert "telecom_subscriptions" in result.stdout
    assert "telecom/customer_subscription_*.csv" in result.stdout
