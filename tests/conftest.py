"""Shared fixtures: one real Spark + Iceberg + Hive (Derby) session per test run, in a temp state dir."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import jvm_archive

REPO = Path(__file__).resolve().parent.parent

# The suite is hundreds of short runs, each in a fresh JVM: the first-tier compiler alone (C1) saves
# about 40% of their CPU (ingestion/config.py, JIT_MODES). Every CLI process a test starts inherits it.
os.environ.setdefault("LAKEHOUSE_JIT", "quick")
# and they start from the class-data-sharing archive `make jvm-archive` writes (lakehouse/jvm_archive.py):
# about 5 CPU-seconds less per JVM start. Without the file, JVMs start as before.
os.environ.setdefault("LAKEHOUSE_JVM_ARCHIVE", str(jvm_archive.DEFAULT))
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The real public data from the original jobs; tests using it skip cleanly when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} not present")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def lakehouse_settings(tmp_path_factory):
    from ingestion.config import load_settings

    root = tmp_path_factory.mktemp("lakehouse")
    return load_settings(
        home=root / "home",
        landing=root / "landing",
        env={key: os.environ[key] for key in ("LAKEHOUSE_JIT", "LAKEHOUSE_JVM_ARCHIVE")},
    )


@pytest.fixture(scope="session")
def spark(lakehouse_settings):
    from ingestion.spark import build_session

    session = build_session(lakehouse_settings)
    yield session
    session.stop()


@pytest.fixture
def settings_for(lakehouse_settings):
    """Settings sharing the session's state directory but with a landing root of the test's own."""

    def make(landing: Path):
        return dataclasses.replace(lakehouse_settings, landing=landing)

    return make


def run_cli(*args: str, home: Path, landing: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run the `lakehouse` CLI in its own process (its own JVM), as a user would."""
    full_env = {**os.environ, "LAKEHOUSE_HOME": str(home), **(env or {})}
    if landing is not None:
        full_env["LAKEHOUSE_LANDING"] = str(landing)
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# The slowest files first: pytest-xdist (--dist loadfile) hands out files in collection order, so the
# long scenarios start at once and the short tests fill the gaps (less idle time at the end).
SLOWEST_FIRST = [
    "reliability/test_kill_loop.py",
    "e2e/test_invoices_pipeline.py",
    "e2e/test_datamart_pipeline.py",
    "reliability/test_catalog_locks_privacy.py",
    "e2e/test_telecom_pipeline.py",
    "e2e/test_events_pipeline.py",
    "e2e/test_maintain.py",
    "e2e/test_run_ux.py",
    "e2e/test_query_engines.py",
    "aws/test_dbt_aws.py",
    "reliability/test_spark_cluster.py",
    "e2e/test_airline_pipeline.py",
    "reliability/test_hostile_inputs.py",
]


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.path.as_posix()
        return next((i for i, name in enumerate(SLOWEST_FIRST) if path.endswith(name)), len(SLOWEST_FIRST))

    items.sort(key=rank)  # stable: the order inside a file is kept
