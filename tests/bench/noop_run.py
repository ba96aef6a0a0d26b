"""Bench module: a `lakehouse run` with nothing new against a `lakehouse ingest` with nothing new, both
as a user runs them (CLI processes, JVM start included). A run skips dbt when nothing changed since
its last successful build (lakehouse.selection): goal, the run within 1.5x of the ingest.

Also timed: the first run (builds everything), a run after one new telecom day (builds only the
models downstream of telecom), and the same for the next day with ``LAKEHOUSE_JIT=quick`` (C1 only);
the nothing-new ingest again with the JVM class-data-sharing archive when ``make jvm-archive`` wrote one.
Alone: `python tests/bench/noop_run.py [--full] [--workdir DIR]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOAL = 1.5


def lakehouse(home: Path, landing: Path, *args: str, jit: str = "full", archive: Path | None = None) -> float:
    """Seconds one `lakehouse` command takes, in its own process; fails loudly if it fails."""
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(landing), "LAKEHOUSE_JIT": jit}
    env.pop("LAKEHOUSE_JVM_ARCHIVE", None)
    if archive is not None:
        env["LAKEHOUSE_JVM_ARCHIVE"] = str(archive)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"lakehouse {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def run(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(REPO))
    from lakehouse.demo import telecom
    from lakehouse.jvm_archive import DEFAULT as ARCHIVE

    days, rows = (30, 20_000) if args.full else (3, 2_000)
    home, landing = Path(args.workdir) / "noop-home", Path(args.workdir) / "noop-landing"
    outbox = Path(args.workdir) / "noop-outbox"
    files = telecom.generate(outbox, days + 2, rows)  # in arrival order
    for path in files[:-2]:
        target = landing / path.relative_to(outbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    first = lakehouse(home, landing, "run")
    repeats = 3
    ingest = min(lakehouse(home, landing, "ingest") for _ in range(repeats))
    noop = min(lakehouse(home, landing, "run") for _ in range(repeats))
    times = {}
    for jit, path in zip(("full", "quick"), files[-2:], strict=True):
        (landing / path.relative_to(outbox)).write_bytes(path.read_bytes())
        times[jit] = lakehouse(home, landing, "run", jit=jit)
    one_day = times["full"]
    ratio = noop / ingest
    figures = [
        {"name": "run, first (builds everything)", "seconds": first, "rows": days * rows, "note": "CLI"},
        {"name": "ingest, nothing new", "seconds": ingest, "rows": 0, "note": f"CLI, best of {repeats}"},
        {"name": "run, nothing new (dbt skipped)", "seconds": noop, "rows": 0, "note": f"CLI, best of {repeats}"},
        {"name": "run, one new telecom day", "seconds": one_day, "rows": rows, "note": "telecom models only"},
        {"name": "run, next day, LAKEHOUSE_JIT=quick", "seconds": times["quick"], "rows": rows, "note": "C1 only"},
    ]
    ratios = [
        {"name": "run nothing new / ingest nothing new", "value": ratio, "goal": f"<= {GOAL}", "met": ratio <= GOAL},
        {
            "name": "one new day: JIT quick / full",
            "value": times["quick"] / one_day,
            "goal": "< 1",
            "met": times["quick"] < one_day,
        },
    ]
    if ARCHIVE.is_file():  # `make bench` writes it first (make jvm-archive)
        archived = min(lakehouse(home, landing, "ingest", archive=ARCHIVE) for _ in range(repeats))
        note = f"LAKEHOUSE_JVM_ARCHIVE, best of {repeats}"
        figures.append({"name": "ingest, nothing new, JVM archive", "seconds": archived, "rows": 0, "note": note})
        share = archived / ingest
        ratios.append(
            {"name": "ingest nothing new: JVM archive / none", "value": share, "goal": "< 1", "met": share < 1}
        )
    return {"figures": figures, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = args.workdir or Path(tmp)
        result = run(args)
    for figure in result["figures"]:
        print(f"{figure['name']:40} {figure['seconds']:8.1f} s  {figure['note']}")
    for ratio in result["ratios"]:
        verdict = "met" if ratio["met"] else "NOT met"
        print(f"{ratio['name']:40} {ratio['value']:8.2f}    goal {ratio['goal']}: {verdict}")


if __name__ == "__main__":
    main()
