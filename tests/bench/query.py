"""Benchmark (`make bench`): `lakehouse query` latency as a user sees it (a `lakehouse query ...` process,
wall time) on a gold-like Iceberg table of 10 million rows (100 million with --full), DuckDB (the
default engine, no JVM) against Spark (`--engine spark`), side by side. Goals: DuckDB under 1 s, and at
least 10 times faster than Spark. Timings are printed, never asserted.

The table is written directly with Spark into a scratch home's warehouse (not through ingestion and
dbt: this measures reading), then published as a run would (``lakehouse.publish``). A home built
earlier in the same workdir is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # runnable alone: python tests/bench/query.py
    sys.path.insert(0, str(REPO))

TABLE = "gold.bench_flights"
QUERY = (
    f"select carrier, count(*) as flights, avg(dep_delay) as avg_dep_delay, sum(amount) as amount, "
    f"max(departed_at) as last_departure from {TABLE} where flight_date >= date '2024-03-01' "
    "group by carrier order by carrier"
)
"""Valid in both dialects: a filtered group-by over a date, an int, a decimal and a timestamp column."""


def build_table(home: Path, rows: int) -> None:
    """Write ``TABLE`` (``rows`` rows) into ``home``'s warehouse with Spark and publish it."""
    from pyspark.sql import functions as F

    from ingestion.config import load_settings
    from ingestion.spark import build_session
    from lakehouse.publish import publish

    settings = load_settings(home=home, landing=home / "landing", env={})
    settings.ensure_dirs()
    spark = build_session(settings)
    try:
        spark.sql("create database if not exists gold")
        flights = (
            spark.range(rows)
            .withColumn("flight_date", F.date_add(F.lit("2024-01-01").cast("date"), (F.col("id") % 365).cast("int")))
            .withColumn("carrier", F.concat(F.lit("C"), (F.col("id") % 17).cast("string")))
            .withColumn("dep_delay", ((F.col("id") * 7919) % 181 - 30).cast("int"))
            .withColumn("amount", ((F.col("id") % 100_000) / 100).cast("decimal(12,2)"))
            .withColumn("departed_at", F.timestamp_seconds(F.lit(1_704_067_200) + F.col("id") % 31_536_000))
        )
        flights.writeTo(TABLE).using("iceberg").partitionedBy(F.months("flight_date")).createOrReplace()
        publish(spark, home, "bench")
    finally:
        spark.stop()


def has_table(home: Path, rows: int) -> bool:
    try:
        record = json.loads((home / "published.json").read_text())
    except (OSError, ValueError):
        return False
    return record.get("rows") == rows and TABLE in record.get("tables", {})


def query_seconds(home: Path, engine: str) -> tuple[float, str]:
    """Wall time of one `lakehouse query` process, and its output."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "--home", str(home), "query", QUERY, "--engine", engine],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"lakehouse query --engine {engine} failed: {done.stderr.strip()}")
    return seconds, done.stdout


def run(args: argparse.Namespace) -> dict:
    rows = 100_000_000 if args.full else 10_000_000
    home = Path(args.workdir) / "query-bench-home"
    figures = []
    if not has_table(home, rows):
        start = time.perf_counter()
        # in its own process: the JVM (and its embedded Derby) must be gone before `lakehouse query` starts one
        build = [sys.executable, __file__, "--build", str(home), "--rows", str(rows)]
        subprocess.run(build, cwd=REPO, check=True, capture_output=True, timeout=3600)
        record = json.loads((home / "published.json").read_text())
        (home / "published.json").write_text(json.dumps({**record, "rows": rows}))  # marks a reusable home
        figures.append(
            {
                "name": "write the table (Spark)",
                "seconds": time.perf_counter() - start,
                "rows": rows,
                "note": f"{TABLE}, then published",
            }
        )
    duckdb_runs = [query_seconds(home, "duckdb") for _ in range(5)]
    spark_runs = [query_seconds(home, "spark") for _ in range(2)]
    assert duckdb_runs[0][1] == spark_runs[0][1], "the engines disagree:\n" + duckdb_runs[0][1] + spark_runs[0][1]
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    duck = statistics.median(s for s, _ in duckdb_runs)
    spark = statistics.median(s for s, _ in spark_runs)
    figures += [
        {"name": "lakehouse query (duckdb)", "seconds": duck, "rows": rows, "note": f"median of 5; {load}"},
        {"name": "lakehouse query --engine spark", "seconds": spark, "rows": rows, "note": f"median of 2; {load}"},
    ]
    ratios = [
        {"name": "duckdb query seconds", "value": duck, "goal": "< 1", "met": duck < 1},
        {"name": "spark / duckdb query time", "value": spark / duck, "goal": ">= 10", "met": spark / duck >= 10},
    ]
    return {"figures": figures, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="100 million rows instead of 10 million")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch dir (default: a temporary one)")
    parser.add_argument("--build", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build_table(args.build, args.rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = args.workdir or Path(tmp)
        result = run(args)
    for figure in result["figures"]:
        rows = f"{figure['rows']:,} rows" if figure["rows"] else ""
        print(f"{figure['name']:34} {figure['seconds']:8.2f} s  {rows:>18}  {figure['note']}")
    for ratio in result["ratios"]:
        verdict = "met" if ratio["met"] else "NOT met"
        print(f"{ratio['name']:34} {ratio['value']:8.2f}    goal {ratio['goal']:6} {verdict}")


if __name__ == "__main__":
    main()
