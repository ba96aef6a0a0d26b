"""dbt reads its settings from the environment: set around each in-process call, never left behind."""

from __future__ import annotations

import os
import subprocess

from ingestion.config import load_settings
from lakehouse.dbt_runner import CHECK_ENV, PARTIAL_PARSE, dbt_env, dbt_environment, parse_cache, shared_parse
from lakehouse.selection import fingerprint
from tests.conftest import REPO


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


def test_a_new_home_starts_from_the_shared_parse_and_only_a_parse_without_vars_is_shared(tmp_path, monkeypatch):
    """dbt's parse is shared between homes (lakehouse.dbt_runner.share_parse): dbt checks a seeded parse
    itself and parses again what differs, so a wrong seed costs time, never correctness."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = load_settings(home=tmp_path / "first", landing=tmp_path / "landing", env={})
    second = load_settings(home=tmp_path / "second", landing=tmp_path / "landing", env={})
    third = load_settings(home=tmp_path / "third", landing=tmp_path / "landing", env={})
    shared = shared_parse()
    assert shared.parent == tmp_path / "cache" / "lakehouse" / "dbt-parse"
    assert fingerprint()[:16] in shared.name  # a parse of these very files only
    checkout = shared.name.split("-", 1)[0]
    (shared.parent / f"{checkout}-0123456789abcdef.msgpack").parent.mkdir(parents=True)
    (shared.parent / f"{checkout}-0123456789abcdef.msgpack").write_bytes(b"an older project version")
    (shared.parent / "otherchecko-0123456789abcdef.msgpack").write_bytes(b"another checkout's")

    def parse_of(settings):
        return settings.dbt_target_dir / PARTIAL_PARSE

    with dbt_env(first, args=["ls", "--vars", "{as_of_date: 2021-03-01}"]):
        parse_of(first).parent.mkdir(parents=True)
        parse_of(first).write_bytes(b"parsed with vars")
    assert not shared.exists()  # a parse with --vars is no start for another home
    with dbt_env(first, args=["ls"]):
        parse_of(first).write_bytes(b"parsed without vars")
    assert shared.read_bytes() == b"parsed without vars"
    # this checkout's parse of an older project version is gone, another checkout's is left alone
    assert sorted(p.name for p in shared.parent.iterdir()) == sorted(
        [shared.name, "otherchecko-0123456789abcdef.msgpack"]
    )
    with dbt_env(second, args=["build"]):
        assert parse_of(second).read_bytes() == b"parsed without vars"  # seeded before dbt runs
    with dbt_env(third, target="athena", args=["build"]):
        assert not (third.dbt_target_dir.with_name("target-athena") / PARTIAL_PARSE).exists()  # their own parse
    with dbt_env(first, args=["ls"]):  # dbt parsed again, but its parse is older than the shared one
        parse_of(first).write_bytes(b"old")
        os.utime(parse_of(first), (1, 1))
    assert shared.read_bytes() == b"parsed without vars"  # an older parse does not replace a newer one
    shared.unlink()
    with dbt_env(first, args=["ls"]):  # dbt did not parse again: nothing to share
        pass
    assert not shared.exists()
    assert not list(shared.parent.glob(".*.tmp"))


def test_make_clean_deletes_the_shared_parse(tmp_path, monkeypatch):
    """README, "Where state lives": `make clean` deletes it (its line of the recipe, run on a stand-in cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = parse_cache()
    cache.mkdir(parents=True)
    (cache / "x-y.msgpack").write_bytes(b"parse")
    recipe = subprocess.run(["make", "-n", "clean"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    [line] = [line for line in recipe.splitlines() if "dbt-parse" in line]
    subprocess.run(["bash", "-c", line], check=True, env={**os.environ})
    assert not cache.exists() and cache.parent.exists()
