"""``make bench`` / ``make bench-full``: every benchmark module in one run, one table, one JSON file.

Each module (``tests/bench/<topic>.py``) exposes ``run(args) -> {"figures": [...], "ratios": [...]}``
and can run alone (``python tests/bench/<topic>.py``). Figures are wall-clock seconds on this machine;
the ratios compare figures taken in the same run, which is what to read (the machine is noisy).
Nothing here is asserted: a ratio that misses its goal is printed as ``missed``, and the exit code is 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULES = ("ingest", "noop_run", "history", "query")
"""In the order they run: ingestion first (one Spark session of its own), then whole runs."""


def machine() -> dict:
    memory = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split("\n", 1)[0].split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def render(results: dict[str, dict]) -> str:
    lines = [f"{'figure':58} {'seconds':>9} {'rows':>12}  note", "-" * 100]
    for topic, result in results.items():
        for figure in result.get("figures", []):
            rows = f"{figure['rows']:,}" if figure.get("rows") else ""
            label = f"{topic}: {figure['name']}"
            lines.append(f"{label:58} {figure['seconds']:9.2f} {rows:>12}  {figure.get('note', '')}")
    lines += ["", f"{'ratio':58} {'value':>9} {'goal':>12}  verdict", "-" * 100]
    for topic, result in results.items():
        for ratio in result.get("ratios", []):
            verdict = "" if "met" not in ratio else "met" if ratio["met"] else "missed"  # no goal: a figure
            label = f"{topic}: {ratio['name']}"
            lines.append(f"{label:58} {ratio['value']:9.2f} {ratio['goal']:>12}  {verdict}")
        if "error" in result:
            lines.append(f"{topic}: FAILED: {result['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the 365-day sizes (make bench-full)")
    parser.add_argument("--only", help="comma-separated modules, of: " + ", ".join(MODULES))
    parser.add_argument("--output", type=Path, default=REPO / "bench", help="folder for the JSON results")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(MODULES)
    unknown = sorted(set(chosen) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    sys.path.insert(0, str(REPO))
    results: dict[str, dict] = {}
    started = time.perf_counter()
    for topic in chosen:
        module = importlib.import_module(f"tests.bench.{topic}")
        with tempfile.TemporaryDirectory(prefix=f"bench-{topic}-") as scratch:
            module_args = argparse.Namespace(full=args.full, workdir=Path(scratch))
            print(f"== {topic}", flush=True)
            try:
                results[topic] = module.run(module_args)
            except Exception as exc:  # noqa: BLE001 - one module's failure must not hide the others' figures
                results[topic] = {"figures": [], "ratios": [], "error": f"{type(exc).__name__}: {exc}"}
    table = render(results)
    print("\n" + table)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "at": stamp,
        "size": "full" if args.full else "default",
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    path = args.output / f"bench-{stamp}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    (args.output / "latest.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nresults: {path}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
