"""The snapshot retention setting (``lakehouse maintain``): durations as a whole number and a unit."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.config import ConfigError, load_settings, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", dt.timedelta(seconds=45)),
        ("30m", dt.timedelta(minutes=30)),
        ("12h", dt.timedelta(hours=12)),
        ("7d", dt.timedelta(days=7)),
        ("2w", dt.timedelta(days=14)),
        (" 0d ", dt.timedelta(0)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text, "--older-than") == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-1d", "1.5h", "7 days", "7d12h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ConfigError, match=r"^--older-than must be a duration: .* got "):
        parse_duration(text, "--older-than")


def test_the_retention_setting(tmp_path):
    default = load_settings(home=tmp_path, landing=tmp_path, env={})
    assert default.snapshot_retention == dt.timedelta(days=7)
    set_ = load_settings(home=tmp_path, landing=tmp_path, env={"LAKEHOUSE_SNAPSHOT_RETENTION": "36h"})
    assert set_.snapshot_retention == dt.timedelta(hours=36)
