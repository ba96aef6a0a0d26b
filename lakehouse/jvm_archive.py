"""A class-data-sharing (CDS) archive for the local driver JVM: a faster start for every command.

Each `lakehouse` command starts a JVM that loads some 20,000 classes of Spark, Hive, Iceberg and Derby.
Java 17 can map the classes a previous JVM loaded from an archive instead of loading and verifying them
again (JDK's "dynamic archive"): measured here, a `lakehouse status` went from 12.7 s to 7.9 s and from
16.6 to 10.9 CPU-seconds (BENCHMARKS.md, "The JVM's start and compilers").

``python -m lakehouse.jvm_archive [PATH]`` (``make jvm-archive``) writes one: it runs a small
`lakehouse run` (the telecom pipeline on two small files) in a scratch home, in a JVM started with
``-XX:ArchiveClassesAtExit``, waits for that JVM to exit (the archive is written as it exits), and renames
the file into place: a JVM never maps a half-written archive (one would crash it). Point
``LAKEHOUSE_JVM_ARCHIVE`` at the file to use it. An archive made by another JDK or for other jars is
ignored by the JVM (the start is then as before).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingestion.config import PROJECT_DIR

DEFAULT = PROJECT_DIR / ".jvm" / "lakehouse.jsa"
PID = "jvm pid: "
TELECOM = "+path:models/gold/telecom telecom_plan_types"


class ArchiveError(Exception):
    """The archive could not be written (the reason is the message)."""


def build(target: Path = DEFAULT, timeout: float = 600) -> Path:
    """Write the archive to ``target`` (atomically) and return it."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "LAKEHOUSE_JVM_ARCHIVE"}
    with tempfile.TemporaryDirectory(prefix="lakehouse-jvm-archive-") as scratch:
        env |= {"LAKEHOUSE_HOME": f"{scratch}/home", "LAKEHOUSE_LANDING": f"{scratch}/landing"}
        result = subprocess.run(
            [sys.executable, "-m", "lakehouse.jvm_archive", "--dump", str(partial)],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        pids = [line.removeprefix(PID) for line in result.stdout.splitlines() if line.startswith(PID)]
        if result.returncode != 0 or not pids:
            partial.unlink(missing_ok=True)
            raise ArchiveError(f"the sample run failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pids[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)  # the JVM writes the archive as it exits
    if Path(f"/proc/{pids[0]}").exists() or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise ArchiveError("the JVM did not write the archive as it exited")
    os.replace(partial, target)
    return target


def dump(partial: Path) -> None:
    """In the child process: a small telecom run in a JVM that archives its classes when it exits."""
    from ingestion.config import load_settings
    from ingestion.spark import build_session, spark_conf
    from lakehouse.cli import cli
    from lakehouse.demo import telecom

    settings = load_settings()
    telecom.generate(settings.landing, days=2, rows_per_day=50, seed=1)
    conf = spark_conf(settings)
    options = f"{conf['spark.driver.extraJavaOptions']} -XX:ArchiveClassesAtExit={partial}"
    os.environ["PYSPARK_SUBMIT_ARGS"] = f'--conf "spark.driver.extraJavaOptions={options}" pyspark-shell'
    spark = build_session(settings)  # the run below finds this session
    jvm = spark.sparkContext._jvm
    print(f"{PID}{jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getPid()}", flush=True)
    # the telecom pipeline: ingestion, views, incremental merges, tables, data tests, the seed
    cli.main(["run", "--select", TELECOM], prog_name="lakehouse", standalone_mode=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT, help=f"where to write it (default {DEFAULT})")
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dump:
        dump(args.dump)
        return 0
    try:
        path = build(args.path)
    except (ArchiveError, subprocess.TimeoutExpired) as exc:
        print(f"error: no JVM archive written: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size // 2**20} MiB); use it with: export LAKEHOUSE_JVM_ARCHIVE={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
