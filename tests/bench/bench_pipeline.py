"""Benchmarks (`make bench`): ingestion throughput, a full run, a no-op re-run, and DuckDB as the
single-node yardstick on the same CSV files. Timings are printed, never asserted."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ingestion.config import load_settings
from ingestion.ingest import ingest
from ingestion.spark import build_session
from lakehouse.dbt_runner import run_dbt
from lakehouse.demo import telecom


def timed(label: str, results: list, func):
    start = time.perf_counter()
    value = func()
    results.append((label, time.perf_counter() - start))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per daily file")
    args = parser.parse_args()
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(home=root / "home", landing=root / "landing", env={})
        files = timed("generate files", results, lambda: telecom.generate(settings.landing, args.days, args.rows))
        total_rows = args.days * args.rows
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        spark = timed("spark session start", results, lambda: build_session(settings))
        timed("ingest (first run)", results, lambda: ingest(spark, settings))
        timed("dbt build (first run)", results, lambda: run_dbt(spark, settings, ["build"]))
        timed("ingest (no-op re-run)", results, lambda: ingest(spark, settings))
        timed("dbt build (no new batch)", results, lambda: run_dbt(spark, settings, ["build"]))
        spark.stop()
        try:
            import duckdb

            csv_glob = str(settings.landing / "telecom" / "*.csv")
            out = root / "duck.parquet"
            timed(
                "duckdb csv -> parquet (yardstick)",
                results,
                lambda: duckdb.sql(f"copy (select * from read_csv('{csv_glob}')) to '{out}' (format parquet)"),
            )
        except ImportError:
            pass
    print(f"\n{args.days} files, {total_rows:,} rows, {megabytes:.1f} MB")
    for label, seconds in results:
        rate = f"{total_rows / seconds:,.0f} rows/s" if label.startswith(("ingest (first", "duckdb")) else ""
        print(f"{label:36} {seconds:8.1f} s  {rate}")


if __name__ == "__main__":
    main()
