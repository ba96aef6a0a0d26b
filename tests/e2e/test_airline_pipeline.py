"""Airline end to end: gold equals an independent DuckDB computation over the same landing CSVs,
after a first load, after a corrected date + a late date + a renamed airport, and after a no-op."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pytest

from ingestion.config import SHARED_DATASETS
from lakehouse.demo import airline
from tests.e2e.helpers import run_report, scenario

pytestmark = pytest.mark.e2e

GOLD_SQL = """
select cast(flight_date as string) as flight_date, carrier, dep_airport, arr_airport, dep_city, arr_city,
       dep_state, arr_state, cast(dep_delay as string) as dep_delay, cast(arr_delay as string) as arr_delay
from gold.daily_flights_processed
"""
SUMMARY_SQL = "select * from gold.flight_delay_summary"
FLIGHT_COLUMNS = {
    "Carrier": "VARCHAR",
    "OriginAirportID": "BIGINT",
    "DestAirportID": "BIGINT",
    "DepDelay": "INTEGER",
    "ArrDelay": "INTEGER",
}


def nodes_run(result: dict) -> set[str]:
    return {n["name"] for n in run_report(result)["dbt"]["nodes"]}


def expected_from_csvs(flight_files, airports_file):
    """The enrichment and the summary, computed by DuckDB straight from the CSV files."""
    con = duckdb.connect()
    files = ", ".join(f"'{p}'" for p in flight_files)
    con.sql(
        f"""
        create view flights as
        select Carrier as carrier, OriginAirportID as origin, DestAirportID as dest,
               DepDelay as dep_delay, ArrDelay as arr_delay,
               cast(regexp_extract(filename, 'date=(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) as date) as flight_date
        from read_csv([{files}], header = true, filename = true, columns = {FLIGHT_COLUMNS})
        """
    )
    con.sql(f"create view airports as select * from read_csv('{airports_file}', header = true, all_varchar = true)")
    rows = con.sql(
        """
        select cast(f.flight_date as varchar), f.carrier, d.name, a.name, d.city, a.city, d.state, a.state,
               cast(f.dep_delay as varchar), cast(f.arr_delay as varchar)
        from flights as f
        left join airports as d on cast(f.origin as varchar) = d.airport_id
        left join airports as a on cast(f.dest as varchar) = a.airport_id
        """
    ).fetchall()
    enriched = sorted(tuple("" if v is None else v for v in row) for row in rows)
    summary = con.sql(
        """
        select cast(flight_date as varchar), carrier, count(*), avg(dep_delay), avg(arr_delay),
               sum(case when dep_delay >= 15 then 1 else 0 end) / count(dep_delay),
               sum(case when dep_delay is null or arr_delay is null then 1 else 0 end)
        from flights group by all
        """
    ).fetchall()
    return enriched, {(r[0], r[1]): r[2:] for r in summary}


def assert_gold_matches(result, flight_files, airports_file):
    enriched, summary = expected_from_csvs(flight_files, airports_file)
    gold = sorted(tuple(r.values()) for r in result["gold"])
    assert len(gold) == len(enriched)
    assert gold == enriched
    got = {(r["flight_date"], r["carrier"]): r for r in result["summary"]}
    assert got.keys() == summary.keys()
    for key, (flights, avg_dep, avg_arr, share, unknown) in summary.items():
        row = got[key]
        assert int(row["flights"]) == flights and int(row["unknown_delay_flights"]) == unknown
        for text, value, places in (
            (row["avg_dep_delay"], avg_dep, 2),
            (row["avg_arr_delay"], avg_arr, 2),
            (row["share_dep_delayed_15"], share, 4),
        ):
            assert (text == "") == (value is None), key
            if value is not None:
                assert abs(float(text) - value) <= 0.5 * 10**-places + 1e-9, (key, text, value)
    return gold


def test_enrichment_correction_late_date_rename_and_rerun(tmp_path):
    """One scenario process: first load, then a corrected date + a late date + a renamed airport,
    then a no-op re-run; gold is compared with DuckDB over the files in the landing zone each time."""
    outbox = tmp_path / "outbox"
    shared = SHARED_DATASETS / "airline" / "airports_codes.csv"
    days = airline.generate(outbox, days=3, rows_per_day=150, seed=21, airports_csv=shared)
    airports_v1 = days[0][0]
    first_files = [p for day in days for p in day]
    current = {p.parent.name: p for p in first_files if "daily_flights" in str(p)}
    first_current = dict(current)

    # A corrected file for 2024-01-02 (fewer rows, other values), a late date, a renamed airport.
    later = tmp_path / "later"
    rng = random.Random(99)
    ids = [a[0] for a in airline.load_airports(shared)]
    corrected = airline.write_flights(
        later, dt.date(2024, 1, 2), list(airline.flight_lines(rng, ids, 40, 0.05, 0.1)), name="flights_fix.csv"
    )
    late = airline.write_flights(later, dt.date(2023, 12, 30), list(airline.flight_lines(rng, ids, 25, 0.0, 0.0)))
    current["date=2024-01-02"], current["date=2023-12-30"] = corrected, late
    renamed = [
        (a[0], a[1], a[2], "Renamed Intl" if i == 0 else a[3]) for i, a in enumerate(airline.load_airports(shared))
    ]
    airports_v2 = airline.write_airports(later, renamed, name="airports_v2.csv")

    def land(paths, root):
        return {"land": [[str(p), p.relative_to(root).as_posix()] for p in paths]}

    gold = {"query": {"gold": GOLD_SQL, "summary": SUMMARY_SQL}}
    run = {"cli": ["run"]}  # plain runs: everything first, then only what the new batch changed
    compiled = tmp_path / "home/dbt/target/compiled/lakehouse/models/silver/airline/_airline__models.yml"
    first, after_first, second, second_sql, after_second, third, after_third = [
        r
        for r in scenario(
            tmp_path / "home",
            tmp_path / "landing",
            [
                land(first_files, outbox),
                run,
                gold,
                land([corrected, late, airports_v2], later),
                run,
                {"call": "read_text", "args": [str(compiled / "not_null_flights_carrier.sql")]},
                gold,
                {"cli": ["run", "--audit"]},  # nothing new: the audit tests alone
                gold,
            ],
        )
        if r is not None
    ]
    assert first["code"] == 0, first["stdout"] + first["stderr"]
    assert "warn_flights_with_unknown_airports" in first["stdout"]  # unknown ids surfaced, not dropped
    assert_gold_matches(after_first, first_current.values(), airports_v1)

    assert second["code"] == 0, second["stdout"] + second["stderr"]
    result = assert_gold_matches(after_second, current.values(), airports_v2)
    assert any("Renamed Intl" in (row[2], row[3]) for row in result)  # the rename is really exercised

    assert third["code"] == 0 and "no new files" in third["stdout"], third["stdout"] + third["stderr"]
    assert_gold_matches(after_third, current.values(), airports_v2)

    # the incremental run checked only its own rows where a test is marked for it, and left the
    # audit out; the nothing-new `--audit` run then ran the audits alone (and they passed)
    audit = "assert_flights_equal_full_rebuild"
    assert run_report(first)["dbt"]["selection"]["checked_after"] is None  # a full build checks every row
    assert run_report(second)["dbt"]["selection"]["checked_after"] == 1
    assert "incremental checks read batches after 1" in second["stdout"]
    assert audit not in nodes_run(second) and "left out 1 audit test(s)" in second["stdout"]
    assert "_batch_id > 1" in second_sql  # what the second run compiled for a marked test
    assert "dbt: the audit tests only: nothing changed" in third["stdout"]
    audits = {n["name"]: n["status"] for n in run_report(third)["dbt"]["nodes"]}
    assert audits[audit] == "pass" and all(n.startswith("assert_") for n in audits), audits
