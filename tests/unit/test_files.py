"""Landing-file helpers: globbing, file dates, discovery rules, headers, identity."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import time

import pytest

from ingestion.files import (
    HeaderError,
    derive_file_date,
    discover,
    file_sha256,
    glob_regex,
    is_temporary,
    read_header,
)
from ingestion.registry import SOURCES, date_in_name, date_in_path, get_source


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("telecom/customer_subscription_*.csv", "telecom/customer_subscription_2023_08_21.csv", True),
        ("telecom/customer_subscription_*.csv", "telecom/customer_subscription_2023_08_21.csv.gz", True),
        ("telecom/customer_subscription_*.csv", "telecom/sub/customer_subscription_2023_08_21.csv", False),
        ("telecom/customer_subscription_*.csv", "telecom/customer_subscription_1.txt", False),
        ("airline/daily_flights/**/*.csv", "airline/daily_flights/date=2024-01-02/part-1.csv", True),
        ("airline/daily_flights/**/*.csv", "airline/daily_flights/f.csv", True),
        ("events/**/*.csv", "eventsX/a.csv", False),
    ],
)
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).match(path)) is matches


def test_file_date_from_name_and_path():
    assert derive_file_date(date_in_name("customer_subscription_"), "telecom/customer_subscription_2023_08_21.csv") == (
        dt.date(2023, 8, 21)
    )
    assert derive_file_date(date_in_path(), "airline/daily_flights/date=2024-02-29/x.csv") == dt.date(2024, 2, 29)
    assert derive_file_date(date_in_path(), "airline/daily_flights/x.csv") is None
    assert derive_file_date(None, "anything.csv") is None
    with pytest.raises(ValueError):
        derive_file_date(date_in_name("customer_subscription_"), "telecom/customer_subscription_2023_02_30.csv")


@pytest.mark.parametrize("suffix", ["_fix1", "_part2", "_corrected rows"])
def test_a_suffix_after_the_date_in_the_name_keeps_the_date(suffix):
    name = f"telecom/customer_subscription_2023_08_22{suffix}.csv"
    assert derive_file_date(date_in_name("customer_subscription_"), name) == dt.date(2023, 8, 22)
    assert derive_file_date(date_in_name("customer_subscription_"), name + ".gz") == dt.date(2023, 8, 22)
    assert (
        derive_file_date(date_in_name("customer_subscription_"), "telecom/customer_subscription_2023_08_2212.csv")
        is None
    )


@pytest.mark.parametrize(
    ("name", "temporary"),
    [("a.csv", False), (".a.csv", True), ("_a.csv", True), ("a.csv.tmp", True), ("a.csv._COPYING_", True)],
)
def test_temporary_names_are_ignored(name, temporary):
    assert is_temporary(name) is temporary


def test_discover_assigns_sources_and_skips_what_is_not_complete(tmp_path):
    landing = tmp_path / "landing"
    (landing / "telecom").mkdir(parents=True)
    good = landing / "telecom" / "customer_subscription_2023_08_21.csv"
    good.write_text("h\n1")
    (landing / "telecom" / "customer_subscription_2023_08_22.csv.part").write_text("h\n1")
    (landing / "telecom" / "notes.txt").write_text("x")
    outside = tmp_path / "secret.csv"
    outside.write_text("x")
    os.symlink(outside, landing / "telecom" / "customer_subscription_2023_08_23.csv")
    fresh = landing / "telecom" / "customer_subscription_2023_08_24.csv"
    fresh.write_text("h\n1")

    old = time.time() - 3600
    os.utime(good, (old, old))
    found = discover(landing, SOURCES, settle_seconds=60)

    assert [f.rel_path for f in found.files] == ["telecom/customer_subscription_2023_08_21.csv"]
    assert found.files[0].source == "telecom_subscriptions"
    assert found.unmatched == ["telecom/notes.txt"]
    assert found.outside == ["telecom/customer_subscription_2023_08_23.csv"]
    assert found.unsettled == ["telecom/customer_subscription_2023_08_24.csv"]


def test_discover_missing_landing_is_empty(tmp_path):
    assert discover(tmp_path / "nope", SOURCES).files == []


def test_read_header_handles_bom_crlf_quotes_and_gzip(tmp_path):
    plain = tmp_path / "a.csv"
    plain.write_bytes(b'\xef\xbb\xbf CustomerID ,"First,Name"\r\n1,2\r\n')
    assert read_header(plain) == ["CustomerID", "First,Name"]
    packed = tmp_path / "b.csv.gz"
    with gzip.open(packed, "wb") as handle:
        handle.write(b"x,y\n1,2\n")
    assert read_header(packed) == ["x", "y"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
        (b"a,b\x00\x00\x00\n1,2\n", "NUL bytes"),
        ("caf\u00e9,b\n".encode("latin-1"), "UTF-8"),
    ],
)
def test_read_header_rejects_unusable_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(HeaderError, match=message):
        read_header(path)


def test_file_identity_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert file_sha256(path, chunk=3) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_registry_lookup():
    assert get_source("telecom_subscriptions").table == "bronze.telecom_subscriptions"
    with pytest.raises(KeyError, match="known sources"):
        get_source("nope")
