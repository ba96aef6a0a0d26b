"""The CLI's contract: exit codes and messages (no JVM needed for these)."""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
from decimal import Decimal

from tests.conftest import REPO, run_cli


def error_line(result: subprocess.CompletedProcess) -> str:
    """The failure's message: stderr is exactly one ``error: ...`` line (no traceback, no usage text)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_unknown_source_is_bad_usage(tmp_path):
    result = run_cli("ingest", "--source", "nope", home=tmp_path / "home", landing=tmp_path)
    assert result.returncode == 2
    assert error_line(result).startswith("error: unknown source 'nope'")


def test_missing_argument_and_bad_format_are_bad_usage(tmp_path):
    missing = run_cli("query", home=tmp_path)
    assert missing.returncode == 2
    assert error_line(missing) == (
        'error: give the SQL: lakehouse query "select ...", -f FILE, or - (standard input) '
        "(see `lakehouse query --help`)"
    )
    bad_format = run_cli("query", "select 1", "--format", "xml", home=tmp_path)
    assert bad_format.returncode == 2
    assert error_line(bad_format) == (
        "error: Invalid value for '--format': 'xml' is not one of 'table', 'csv', 'json'. "
        "(see `lakehouse query --help`)"
    )


def test_home_that_is_a_file_is_bad_config(tmp_path):
    home = tmp_path / "file"
    home.write_text("x")
    result = run_cli("status", home=home)
    assert result.returncode == 2
    assert error_line(result) == f"error: LAKEHOUSE_HOME {home} exists and is not a directory"


def test_second_run_is_refused_while_the_state_directory_is_in_use(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with open(home / "lakehouse.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_cli("run", home=home, landing=tmp_path)
    assert result.returncode == 1
    message = error_line(result)
    assert "is in use by" in message and "--wait" in message


def test_sources_lists_the_registry(tmp_path):
    result = run_cli("sources", home=tmp_path)
    assert result.returncode == 0
    assert "telecom_subscriptions" in result.stdout
    assert "telecom/customer_subscription_*.csv" in result.stdout


def test_read_commands_on_a_missing_home_say_so_and_create_nothing(tmp_path):
    home = tmp_path / "nowhere"
    for args in (["status"], ["query", "select 1"]):
        result = run_cli(*args, home=home)
        assert result.returncode == 1, result.stderr
        assert error_line(result) == (
            f"error: {home} does not exist: no lakehouse here (pass --home DIR or set LAKEHOUSE_HOME; "
            "`lakehouse run` creates it)"
        )
        assert not home.exists()


def test_query_sql_may_start_with_a_comment_or_come_from_stdin(tmp_path):
    # parsed before anything else: on a missing home the SQL gets as far as the home check
    home = tmp_path / "nowhere"
    commented = run_cli("query", "-- features of today\nselect 1", "--format", "csv", home=home)
    assert commented.returncode == 1 and "does not exist" in commented.stderr, commented.stderr
    assert "No such option" not in commented.stderr
    piped = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "--home", str(home), "query", "-"],
        cwd=REPO,
        input="select 1",
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 1 and "does not exist" in piped.stderr, piped.stderr
    (tmp_path / "q.sql").write_text("select 2")
    both = run_cli("query", "select 1", "-f", str(tmp_path / "q.sql"), home=home)
    assert both.returncode == 2
    assert error_line(both) == (
        "error: give the SQL as an argument or with -f FILE, not both (see `lakehouse query --help`)"
    )
    missing_file = run_cli("query", "-f", str(tmp_path / "none.sql"), home=home)
    assert missing_file.returncode == 2
    assert "Invalid value for '-f' / '--file'" in error_line(missing_file)


def test_click_usage_errors_have_the_same_error_style(tmp_path):
    messages = {
        "'xml' is not one of 'table', 'csv', 'json'": ["query", "select 1", "--format", "xml"],
        "'soon' is not a valid float": ["--wait", "soon", "status"],
        "No such command 'nonsense'": ["nonsense"],
        "give the SQL": ["query"],
    }
    for message, args in messages.items():
        result = run_cli(*args, home=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in error_line(result), (args, result.stderr)


def test_dbt_usage_errors_pass_dbt_s_message_through(tmp_path):
    result = run_cli("dbt", "nonsense", home=tmp_path / "home")
    assert result.returncode == 2
    assert error_line(result) == "error: dbt: No such command 'nonsense'."
    option = run_cli("dbt", "ls", "--no-such-flag", home=tmp_path / "home")
    assert option.returncode == 2 and "No such option '--no-such-flag'" in error_line(option), option.stderr


def landing_with_a_file(tmp_path):
    landing = tmp_path / "landing"
    (landing / "telecom").mkdir(parents=True)
    (landing / "telecom" / "customer_subscription_2023_08_21.csv").write_text(
        "CustomerID,FirstName,LastName,PlanType,MonthlyCharge,SubscriptionDate\n1,A,B,Prepaid,25,2022-01-01\n"
    )
    return landing


def test_run_checks_vars_before_any_work(tmp_path):
    landing, home = landing_with_a_file(tmp_path), tmp_path / "home"
    for bad, message in [
        ("not: [yaml", "--vars is not valid YAML"),
        ("[2021-03-01]", "--vars must be a YAML mapping"),
    ]:
        result = run_cli("run", "--vars", bad, home=home, landing=landing)
        assert result.returncode == 2, result.stdout + result.stderr
        assert error_line(result).startswith(f"error: {message}"), result.stderr
        assert "\x1b[" not in result.stderr + result.stdout  # no raw coloured dbt line
    assert not home.exists()  # nothing ingested, nothing created


def test_run_refuses_an_aws_target(tmp_path):
    landing, home = landing_with_a_file(tmp_path), tmp_path / "home"
    result = run_cli("run", home=home, landing=landing, env={"LAKEHOUSE_TARGET": "athena"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert error_line(result).startswith("error: `lakehouse run` builds the local lakehouse, not the 'athena' target")
    assert not home.exists()  # nothing ingested, nothing created


def test_run_select_matching_nothing_is_refused_before_ingestion(tmp_path):
    landing, home = landing_with_a_file(tmp_path), tmp_path / "home"
    result = run_cli("run", "--select", "nosuchmodel", home=home, landing=landing)
    assert result.returncode == 2, result.stdout + result.stderr
    assert error_line(result) == (
        "error: --select 'nosuchmodel' matches no model, seed, snapshot or test; nothing was run "
        "(list them with `lakehouse dbt ls`)"
    )
    assert "Ingestion" not in result.stdout
    assert not (home / "warehouse").exists() and not (home / "metastore_db").exists()


def test_json_decimals_are_exact_with_the_column_scale():
    from lakehouse.output import format_json

    text = format_json(["charge", "zero", "n"], [(Decimal("97.5500"), Decimal("0E-8"), 3)])
    assert json.loads(text) == [{"charge": "97.5500", "zero": "0.00000000", "n": 3}]


def test_readme_lists_every_environment_variable(tmp_path):
    names = set(re.findall(r"LAKEHOUSE_[A-Z_]+", (REPO / "ingestion" / "config.py").read_text()))
    readme = (REPO / "README.md").read_text()
    [environment] = [p for p in readme.split("\n\n") if p.startswith("Environment:")]
    assert "LAKEHOUSE_TARGET" in names
    assert sorted(n for n in names if f"`{n}`" not in environment) == []
    target = run_cli("env", home=tmp_path, env={"LAKEHOUSE_TARGET": "athena"})  # what the README says it does
    assert target.returncode == 0 and "export LAKEHOUSE_TARGET=athena" in target.stdout.splitlines()


def test_maintain_refuses_a_bad_retention_before_any_work(tmp_path):
    home = tmp_path / "nowhere"
    for value in ("7x", "-1d", "1.5h", "week"):
        result = run_cli("maintain", "--older-than", value, home=home)
        assert result.returncode == 2, result.stderr
        assert error_line(result) == (
            "error: --older-than must be a duration: a whole number and a unit, s (seconds), m (minutes), "
            f"h (hours), d (days) or w (weeks), e.g. 7d, 12h, 30m; got {value!r}"
        )
    setting = run_cli("maintain", home=home, env={"LAKEHOUSE_SNAPSHOT_RETENTION": "soon"})
    assert setting.returncode == 2
    assert error_line(setting).startswith("error: LAKEHOUSE_SNAPSHOT_RETENTION must be a duration: ")
    assert not home.exists()
