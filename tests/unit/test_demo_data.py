"""The demo generators are deterministic and produce the shapes the contracts describe."""

from __future__ import annotations

import csv

from lakehouse.demo import airline, telecom


def test_telecom_files_are_deterministic_and_resend_customers(tmp_path):
    first = [p.read_bytes() for p in telecom.generate(tmp_path / "a", days=3, rows_per_day=20, seed=1)]
    second = [p.read_bytes() for p in telecom.generate(tmp_path / "b", days=3, rows_per_day=20, seed=1)]
    assert first == second
    ids = [{line.split(b",")[0] for line in data.splitlines()[1:]} for data in first]
    assert all(len(day) == 20 for day in ids)
    assert ids[1] & ids[0]  # later days re-send earlier customers (latest file wins downstream)
    assert not first[0].endswith(b"\n")  # like the real files


def test_airline_files_have_unknown_airports_empty_delays_and_date_folders(tmp_path):
    days = airline.generate(tmp_path, days=2, rows_per_day=500, seed=4, unknown_rate=0.02, empty_rate=0.05)
    assert days[0][0].parent.name == "airport_codes"
    flights = [p for day in days for p in day if p.parent.name.startswith("date=")]
    assert [p.parent.name for p in flights] == ["date=2024-01-01", "date=2024-01-02"]
    known = {a[0] for a in airline.BUNDLED_AIRPORTS}
    with open(flights[0], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 500
    assert any(int(r["OriginAirportID"]) not in known or int(r["DestAirportID"]) not in known for r in rows)
    assert any(r["DepDelay"] == "" for r in rows) and any(r["ArrDelay"] == "" and r["DepDelay"] for r in rows)
    assert any(int(r["DepDelay"]) < 0 for r in rows if r["DepDelay"])
    assert all(int(r["OriginAirportID"]) != int(r["DestAirportID"]) for r in rows)
