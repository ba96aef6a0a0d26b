"""Bench (issue 15, goal 1): ingestion against the engine's floor and against DuckDB.

On the same telecom files (default 10 files x 100,000 rows; ``--full``: 60 files), in ONE Spark session:

- **floor**: a plain Spark CSV -> Iceberg append (``spark.read.csv`` with the registry's typed schema,
  ``writeTo(<fresh iceberg table>).append()``, same catalog and table properties): what the engine needs
  to land the bytes, with no typing checks, quarantine, lineage or ledger;
- **ingest (new files)**: ``ingestion.ingest.ingest`` over the same files (typing, quarantine, lineage,
  ledger, archive);
- **ingest (nothing new)**: the same call again;
- **duckdb**: DuckDB ``read_csv`` -> Parquet of the same files (the single-node yardstick).

Warm-up and order: before anything is timed, each contender runs once on a small file (2,000 rows) of
its own: the floor appends it, ``ingest`` ingests it from a separate landing folder into the same home
(so the timed ingest appends to a table that already exists, as every run after the first does), and
DuckDB converts it. The JVM's JIT therefore has compiled the CSV reader, the Parquet writer and the
Iceberg commit path before either Spark side is timed. The floor is then timed twice, before and after
the timed ingest (A-B-A), each into a fresh table, and its mean is the floor: drift during the run
(another process on the machine, a warmer JIT) counts equally for both sides.

Ratios: ingest / floor (goal <= 1.5) and ingest / duckdb (goal <= 2.5). Timings are printed, never
asserted; the only checks are row counts (the runs did the work they are timed for).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ingestion.config import load_settings  # noqa: E402
from ingestion.ingest import ingest  # noqa: E402
from ingestion.landing import open_landing  # noqa: E402
from ingestion.registry import SOURCES  # noqa: E402
from ingestion.spark import TABLE_PROPERTIES, build_session  # noqa: E402
from lakehouse.demo import telecom  # noqa: E402

SOURCE = next(s for s in SOURCES if s.name == "telecom_subscriptions")
WARMUP_ROWS = 2_000


def sizes(args: argparse.Namespace) -> tuple[int, int]:
    files = getattr(args, "files", None) or (60 if getattr(args, "full", False) else 10)
    rows = getattr(args, "rows", None) or 100_000
    return files, rows


def timed(func) -> tuple[float, object]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def floor_append(spark, files: list[Path], table: str) -> int:
    """The engine's floor: typed CSV read -> append into a fresh Iceberg table. Returns rows appended."""
    ddl = ", ".join(f"`{c.name}` {c.type}" for c in SOURCE.columns)
    spark.sql(f"create table {table} ({ddl}) using iceberg {TABLE_PROPERTIES}")
    date_format = next(c.formats[0] for c in SOURCE.columns if c.formats)
    df = spark.read.schema(ddl).option("header", True).option("dateFormat", date_format).csv([str(f) for f in files])
    df.writeTo(table).append()
    return spark.table(table).count()


def duckdb_convert(files: list[Path], out: Path) -> None:
    import duckdb

    listed = ", ".join(f"'{f}'" for f in files)
    duckdb.sql(f"copy (select * from read_csv([{listed}])) to '{out}' (format parquet)")


def run(args: argparse.Namespace) -> dict:
    files_count, rows = sizes(args)
    work = Path(args.workdir) / "ingest-bench"
    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings(home=work / "home", landing=work / "landing", env={})
    warm_landing = work / "warm-landing"
    files = telecom.generate(settings.landing, files_count, rows)
    warm = telecom.generate(warm_landing, 1, WARMUP_ROWS, seed=11, start=dt.date(2020, 1, 1))
    total = files_count * rows
    megabytes = sum(f.stat().st_size for f in files) / 1e6

    session_seconds, spark = timed(lambda: build_session(settings))
    spark.sql("create database if not exists bench")
    # Warm-up (untimed): each side once on a small file of its own.
    floor_append(spark, warm, "bench.floor_warmup")
    warm_settings = dataclasses.replace(settings, landing=warm_landing)
    ingest(spark, settings, landing=open_landing(warm_settings))
    duckdb_convert(warm, work / "warm.parquet")

    floor_a, floor_rows = timed(lambda: floor_append(spark, files, "bench.floor_a"))
    ingest_seconds, report = timed(lambda: ingest(spark, settings))
    floor_b, floor_rows_b = timed(lambda: floor_append(spark, files, "bench.floor_b"))
    noop_seconds, noop = timed(lambda: ingest(spark, settings))
    spark.stop()
    duck_seconds, _ = timed(lambda: duckdb_convert(files, work / "duck.parquet"))

    ingested = report.sources[SOURCE.name].rows_ingested + report.sources[SOURCE.name].rows_quarantined
    if not (floor_rows == floor_rows_b == ingested == total) or noop.batch_id is not None:
        raise RuntimeError(f"bench runs disagree: floor {floor_rows}/{floor_rows_b}, ingest {ingested}, of {total}")
    floor = (floor_a + floor_b) / 2
    size = f"{files_count} files, {total:,} rows, {megabytes:.0f} MB"
    figures = [
        {"name": "spark session start", "seconds": session_seconds, "rows": None, "note": "local[2], Derby metastore"},
        {"name": "spark csv -> iceberg append (floor, A)", "seconds": floor_a, "rows": total, "note": size},
        {"name": "spark csv -> iceberg append (floor, B)", "seconds": floor_b, "rows": total, "note": "after ingest"},
        {"name": "ingest (new files)", "seconds": ingest_seconds, "rows": total, "note": size},
        {"name": "ingest (nothing new)", "seconds": noop_seconds, "rows": 0, "note": "same home, same files"},
        {"name": "duckdb csv -> parquet (yardstick)", "seconds": duck_seconds, "rows": total, "note": size},
    ]
    ratios = [
        ratio("ingest / spark floor (mean of A, B)", ingest_seconds / floor, 1.5),
        ratio("ingest / duckdb csv -> parquet", ingest_seconds / duck_seconds, 2.5),
    ]
    return {"figures": figures, "ratios": ratios}


def ratio(name: str, value: float, goal: float) -> dict:
    return {"name": name, "value": round(value, 2), "goal": f"<= {goal}", "met": value <= goal}


def print_table(result: dict) -> None:
    for figure in result["figures"]:
        rate = f"{figure['rows'] / figure['seconds']:>12,.0f} rows/s" if figure["rows"] else " " * 19
        print(f"{figure['name']:42} {figure['seconds']:8.2f} s {rate}  {figure['note']}")
    for item in result["ratios"]:
        print(f"{item['name']:42} {item['value']:8.2f}   goal {item['goal']:8} {'met' if item['met'] else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="60 files instead of 10")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--rows", type=int, default=None, help="rows per file (default 100,000)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = args.workdir or Path(tmp)
        result = run(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
