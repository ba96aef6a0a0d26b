"""dbt reads its settings from the environment: set around each in-process call, never left behind."""

from __future__ import annotations

import os

from ingestion.config import load_settings
from lakehouse.dbt_runner import CHECK_ENV, dbt_env, dbt_environment


def test_dbt_env_sets_the_settings_for_the_call_only(tmp_path, monkeypatch):
    settings = load_settings(home=tmp_path / "home", landing=tmp_path / "landing", env={})
    monkeypatch.setenv("LAKEHOUSE_TARGET", "athena")  # the user's own value
    monkeypatch.delenv("LAKEHOUSE_SPARK_CONF_JSON", raising=False)
    expected = dbt_environment(settings)
    with dbt_env(settings):
        assert {key: os.environ.get(key) for key in expected} == expected
    assert os.environ["LAKEHOUSE_TARGET"] == "athena"
    assert "LAKEHOUSE_SPARK_CONF_JSON" not in os.environ


def test_incremental_checks_are_never_inherited_from_the_shell(tmp_path, monkeypatch):
    """Only `lakehouse run` narrows the marked tests (macros/incremental_checks.sql), for its own call."""
    settings = load_settings(home=tmp_path / "home", landing=tmp_path / "landing", env={})
    monkeypatch.setenv(CHECK_ENV, "41")  # left in the user's shell
    with dbt_env(settings):
        assert os.environ[CHECK_ENV] == ""  # every other dbt call checks every row
    with dbt_env(settings, extra={CHECK_ENV: "7"}):
        assert os.environ[CHECK_ENV] == "7"
    assert os.environ[CHECK_ENV] == "41"
