"""The pure parts of `lakehouse query`'s DuckDB path and of publication (no JVM, no tables)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ingestion.config import ConfigError
from lakehouse.publish import write_publication
from lakehouse.query import epoch_millis, local_file, parse_as_of, snapshot_at

UTC = dt.UTC


def test_as_of_is_utc_unless_it_says_otherwise():
    assert parse_as_of(None) is None
    assert parse_as_of("2026-11-27 06:00:00") == dt.datetime(2026, 11, 27, 6, tzinfo=UTC)
    assert parse_as_of("2026-11-27T06:00:00Z") == dt.datetime(2026, 11, 27, 6, tzinfo=UTC)
    assert parse_as_of("2026-11-27T07:00:00+01:00") == dt.datetime(2026, 11, 27, 6, tzinfo=UTC)
    assert parse_as_of("2026-11-27") == dt.datetime(2026, 11, 27, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", ""):
        with pytest.raises(ConfigError, match="is not a timestamp"):
            parse_as_of(bad)


def test_epoch_millis_is_exact():
    assert epoch_millis(dt.datetime(1970, 1, 1, 0, 0, 1, 999_999, tzinfo=UTC)) == 1_999
    assert epoch_millis(parse_as_of("2026-11-27 06:00:00.123")) == 1_795_759_200_123


def test_the_snapshot_as_of_a_moment_is_the_last_committed_at_or_before_it():
    metadata = {
        "snapshot-log": [
            {"timestamp-ms": 1_000, "snapshot-id": 11},
            {"timestamp-ms": 2_000, "snapshot-id": 22},
            {"timestamp-ms": 3_000, "snapshot-id": 33},
        ]
    }
    assert snapshot_at(metadata, 999) is None  # before the table's first snapshot
    assert snapshot_at(metadata, 1_000) == 11
    assert snapshot_at(metadata, 2_999) == 22
    assert snapshot_at(metadata, 10_000) == 33
    assert snapshot_at({}, 10_000) is None  # a table without any snapshot


def test_metadata_locations_become_local_paths():
    assert local_file("file:/w/gold.db/t/metadata/00001-a.metadata.json") == Path(
        "/w/gold.db/t/metadata/00001-a.metadata.json"
    )
    assert local_file("file:///w/t/m.json") == Path("/w/t/m.json")
    assert local_file("/w/t/m.json") == Path("/w/t/m.json")


def test_publication_is_replaced_whole(tmp_path):
    write_publication(tmp_path, "run", {"gold.a": "file:/x/1.metadata.json"})
    write_publication(tmp_path, "ingest", {"bronze.b": "file:/x/2.metadata.json"})
    record = json.loads((tmp_path / "published.json").read_text())
    assert record["command"] == "ingest" and record["tables"] == {"bronze.b": "file:/x/2.metadata.json"}
    assert [p.name for p in tmp_path.iterdir()] == ["published.json"]  # no temporary file left behind
