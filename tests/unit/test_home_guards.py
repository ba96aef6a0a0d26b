"""Operator paths on a home's state, without a JVM: which metadata file `repair` registers, commands
refused on a lost metastore or a copied home before Spark starts, and `reset` with archived files."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import uuid

import pytest

from ingestion.registry import SOURCES
from lakehouse.repair import find_tables
from tests.conftest import run_cli


def metadata(table_dir, version, table_uuid, updated_ms, commits=(), location=None):
    """A minimal Iceberg metadata file: version in the name, lineage (uuid), snapshot commit times."""
    folder = table_dir / "metadata"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{version:05d}-{uuid.uuid4()}.metadata.json"
    snapshots = [{"snapshot-id": i + 1, "timestamp-ms": t} for i, t in enumerate(commits)]
    path.write_text(
        json.dumps(
            {
                "format-version": 2,
                "table-uuid": table_uuid,
                "location": location or f"file:{table_dir}",
                "last-updated-ms": updated_ms,
                "current-snapshot-id": len(commits) or -1,
                "snapshots": snapshots,
                "snapshot-log": [dict(s) for s in snapshots],
            }
        )
    )
    return path


def test_repair_registers_the_true_head_never_a_stray_empty_create(tmp_path):
    warehouse = tmp_path / "warehouse"
    # bronze: a history of three versions, then a stray empty `create table if not exists` (newer,
    # no snapshot: what a command on a lost metastore used to write)
    bronze = warehouse / "bronze.db" / "telecom_subscriptions"
    metadata(bronze, 0, "a", 1_000)
    metadata(bronze, 1, "a", 2_000, [2_000])
    head = metadata(bronze, 2, "a", 3_000, [2_000, 3_000])
    metadata(bronze, 0, "stray", 9_000)
    # gold: dropped without purge and created again (old dbt table rebuild): two lineages, the
    # newer one holds the latest commit
    gold = warehouse / "gold.db" / "subscriptions_by_plan"
    metadata(gold, 0, "old", 1_500, [1_500])
    metadata(gold, 1, "old", 2_500, [1_500, 2_500])
    rebuilt = metadata(gold, 0, "new", 4_000, [4_000])
    # an empty table (no snapshot anywhere): its newest create
    empty = warehouse / "bronze.db" / "events_user_events"
    metadata(empty, 0, "e1", 1_000)
    newest_empty = metadata(empty, 0, "e2", 5_000)
    (warehouse / "bronze.db" / "not_a_table").mkdir()

    found = {t.name: t for t in find_tables(warehouse)}
    assert sorted(found) == ["bronze.events_user_events", "bronze.telecom_subscriptions", "gold.subscriptions_by_plan"]
    assert found["bronze.telecom_subscriptions"].metadata_file == head
    assert found["gold.subscriptions_by_plan"].metadata_file == rebuilt
    assert found["bronze.events_user_events"].metadata_file == newest_empty


def test_lost_metastore_is_refused_before_spark_and_nothing_is_written(tmp_path):
    home = tmp_path / "home"
    warehouse = home / "warehouse"
    for name in ("telecom_subscriptions", "quarantine"):
        metadata(warehouse / "bronze.db" / name, 0, name, 1_000, [1_000])
    metadata(warehouse / "meta.db" / "ingest_files", 0, "m", 1_000, [1_000])
    before = sorted(p.relative_to(home) for p in warehouse.rglob("*"))

    for command in (["status"], ["ingest"], ["query", "select 1", "--engine", "spark"]):
        result = run_cli(*command, home=home, landing=tmp_path / "landing")
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.strip() == (
            "error: the metastore is missing but the warehouse holds 3 tables; run lakehouse repair"
        ), result.stderr
    assert sorted(p.relative_to(home) for p in warehouse.rglob("*")) == before
    assert not (home / "metastore_db").exists()


def test_a_copied_home_is_refused_by_every_command_and_by_repair(tmp_path):
    original = tmp_path / "original"
    copy = tmp_path / "copy"
    table = copy / "warehouse" / "bronze.db" / "telecom_subscriptions"
    # what `cp -a original copy` gives: the metadata still records the original's absolute location
    metadata(table, 0, "a", 1_000, [1_000], location=f"file:{original}/warehouse/bronze.db/telecom_subscriptions")
    (copy / "metastore_db").mkdir()
    (copy / "metastore_db" / "service.properties").write_text("")

    for command in (["status"], ["run"], ["repair", "--yes"]):
        result = run_cli(*command, home=copy, landing=tmp_path / "landing")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"registered at another place ({original}/warehouse)" in result.stderr
        assert "this home was copied or moved" in result.stderr and "Traceback" not in result.stderr
    assert not list(copy.glob("metastore_db.broken-*"))  # repair did not touch the metastore


def test_a_home_moved_behind_a_link_at_its_old_path_is_accepted(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    table = new / "warehouse" / "bronze.db" / "telecom_subscriptions"
    metadata(table, 0, "a", 1_000, [1_000], location=f"file:{old}/warehouse/bronze.db/telecom_subscriptions")
    (new / "metastore_db").mkdir()
    (new / "metastore_db" / "service.properties").write_text("")
    from lakehouse.repair import home_problem, table_metadata_dirs

    assert home_problem(new, table_metadata_dirs(new / "warehouse"), new / "metastore_db") is not None  # moved: refused
    old.symlink_to(new)  # the old path is valid again
    assert home_problem(new, table_metadata_dirs(new / "warehouse"), new / "metastore_db") is None


def test_reset_moves_archived_files_back_without_overwriting(tmp_path):
    home, landing, archive = tmp_path / "home", tmp_path / "landing", tmp_path / "archive"
    (home / "warehouse").mkdir(parents=True)
    (home / "runs").mkdir()
    (home / "runs" / "1-run.json").write_text("{}")
    files = {
        "events/2024/a.csv": "user_id,event_type,event_time\n1,login,2023-01-01T09:05:00Z\n",
        "events/b.csv": "user_id,event_type,event_time\n2,login,2023-01-01T09:05:00Z\n",
        "events/b.csv.0123456789ab": "user_id,event_type,event_time\n3,login,2023-01-01T09:05:00Z\n",
        "events/c.csv": "user_id,event_type,event_time\n4,login,2023-01-01T09:05:00Z\n",
    }
    for rel, text in files.items():
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        (archive / rel).write_text(text)
    os.utime(archive / "events/b.csv", (1_600_000_000, 1_600_000_000))
    # a newer delivery with the same path already waits in landing: it must not be overwritten
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "c.csv").write_text("user_id,event_type,event_time\n5,logout,2023-01-02T09:05:00Z\n")

    result = run_cli("reset", "--yes", home=home, landing=landing)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restored 3 archived file(s)" in result.stdout
    assert "kept in the archive: events/c.csv: landing already has events/c.csv" in result.stdout
    assert (landing / "events/2024/a.csv").read_text() == files["events/2024/a.csv"]
    assert (landing / "events/b.csv").read_text() == files["events/b.csv"]
    assert (landing / "events/b.csv").stat().st_mtime == 1_600_000_000  # the same file, moved
    assert (landing / "events/b_0123456789ab.csv").read_text() == files["events/b.csv.0123456789ab"]
    assert "5,logout" in (landing / "events/c.csv").read_text()
    assert (archive / "events/c.csv").read_text() == files["events/c.csv"]
    assert sorted(p.name for p in home.iterdir()) == ["lakehouse.lock"]
    # nothing archived is left behind but the kept file, and a second restore has nothing to do
    assert sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file()) == ["events/c.csv"]
    from ingestion.files import restore_archived

    assert restore_archived(landing, SOURCES).moved == []


def test_orphan_removal_never_runs_while_another_command_holds_the_state(tmp_path):
    home = tmp_path / "home"
    metadata(home / "warehouse" / "bronze.db" / "telecom_subscriptions", 0, "a", 1_000, [1_000])
    with open(home / "lakehouse.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write(json.dumps({"pid": 4242, "command": "run", "since": "2026-01-01T00:00:00Z"}))
        handle.flush()
        for args in (["--dry-run"], ["--yes"]):
            result = run_cli("repair", "--orphans", *args, home=home)
            assert result.returncode == 1, result.stdout + result.stderr
            assert "is in use by pid 4242 (run, since 2026-01-01T00:00:00Z)" in result.stderr
    assert run_cli("repair", "--dry-run", home=home).returncode == 2  # --dry-run only goes with --orphans


@pytest.mark.skipif(shutil.which("flock") is None, reason="util-linux flock not installed")
def test_the_readme_backup_lock_keeps_every_command_out(tmp_path):
    """README, backup: `flock $LAKEHOUSE_HOME/lakehouse.lock tar ...` holds the lock `lakehouse` takes."""
    home = tmp_path / "home"
    home.mkdir()
    backup = subprocess.Popen(
        ["flock", str(home / "lakehouse.lock"), "sh", "-c", "echo locked; cat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert backup.stdout.readline().strip() == "locked"
        for command in (["run"], ["repair", "--orphans", "--yes"]):
            result = run_cli(*command, home=home, landing=tmp_path / "landing")
            assert result.returncode == 1 and "is in use by" in result.stderr, result.stderr
    finally:
        backup.communicate("")
