"""Bench (issue 15, goals 3 and 4): does the cost of a daily run stay flat as history grows, and how
much cheaper is it than reprocessing everything?

Per domain, in one lakehouse home with only that domain's files landed:

1. day 1 lands and is run (not timed); day 2 lands and is run: ``day@1`` (one new day, 1 day loaded);
2. days 3..N land at once and are run in one go (not timed: loading history fast); day N+1 lands and
   is run: ``day@N`` (one new day, N days loaded);
3. day N+2 lands and is run with ``--audit``: ``audited day@N``, the same daily run keeping the audit
   tests (tag ``audit``: whole-history rebuilds) that a plain incremental run leaves out;
4. ``--full-refresh`` of the same models over the N+2 days: ``full_refresh@N``, the reprocess-everything
   pattern of the original Glue jobs.

Ratios: ``day@N / day@1`` (goal <= 1.2), ``full_refresh@N / day@N`` (goal >= 50), and what the audits
cost a daily run, ``audited day@N / day@N`` (no goal: the price of ``lakehouse run --audit``).

Each run is what ``lakehouse run`` does (``lakehouse.pipeline.run_pipeline``: ingest every new file,
then ``dbt build`` without unit tests), in-process with one Spark session per domain: the JVM start
and dbt's parse are the same for every run whatever the history, so leaving them out measures what the
data costs. The daily runs are plain runs: they build what is downstream of the new batches (the
domain's models and their tests; ``lakehouse.selection``), as a user's ``lakehouse run`` does; with
``--whole-project`` every run builds every model (``--select fqn:*``: the other domains are empty). The
full refresh names the domain's models (``+path:models/gold/<domain> --full-refresh``).

Daily sizes (``--scale 1``): airline 20,000 flights, events ~50,000 events (12,500 users), invoices
10,000 invoices (and their lines), telecom 20,000 subscription records, datamart 2,000 accounts
(a dimension: its daily changes are a share of it). N = 30 by default, 365 with ``--full``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

Days = list[list[Path]]


def _airline(outbox: Path, days: int, scale: float) -> Days:
    from ingestion.config import SHARED_DATASETS
    from lakehouse.demo import airline

    airports = SHARED_DATASETS / "airline" / "airports_codes.csv"
    return airline.generate(outbox, days=days, rows_per_day=int(20_000 * scale), airports_csv=airports)


def _events(outbox: Path, days: int, scale: float) -> Days:
    from lakehouse.demo import events

    return [[path] for path in events.generate(outbox, days=days, users=int(12_500 * scale))]


def _invoices(outbox: Path, days: int, scale: float) -> Days:
    from lakehouse.demo import invoices

    per_day = int(10_000 * scale)
    return invoices.generate(outbox, days=days, accounts_per_day=max(6, per_day // 20), invoices_per_day=per_day)


def _telecom(outbox: Path, days: int, scale: float) -> Days:
    from lakehouse.demo import telecom

    return [[path] for path in telecom.generate(outbox, days=days, rows_per_day=int(20_000 * scale))]


def _datamart(outbox: Path, days: int, scale: float) -> Days:
    from lakehouse.demo import datamart

    return datamart.generate(outbox, days=days, accounts=max(6, int(2_000 * scale)))


GENERATORS: dict[str, Callable[[Path, int, float], Days]] = {
    "airline": _airline,
    "events": _events,
    "invoices": _invoices,
    "telecom": _telecom,
    "datamart": _datamart,
}


def land(outbox: Path, landing: Path, paths: list[Path]) -> int:
    """Copy ``paths`` from the outbox to the same place under the landing zone; return their data lines."""
    lines = 0
    for path in paths:
        target = landing / path.relative_to(outbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        with open(path, "rb") as handle:
            lines += max(sum(1 for _ in handle) - 1, 0)
    return lines


def measure_domain(domain: str, days: int, scale: float, workdir: Path, whole_project: bool) -> dict:
    """The three timed runs of one domain (see the module docstring); seconds and rows of each."""
    from ingestion.config import load_settings
    from ingestion.spark import build_session
    from lakehouse.pipeline import Build, run_pipeline

    root = workdir / domain
    shutil.rmtree(root, ignore_errors=True)
    outbox = root / "outbox"
    arrivals = GENERATORS[domain](outbox, days + 2, scale)
    settings = load_settings(home=root / "home", landing=root / "landing", env={})
    settings.ensure_dirs()
    spark = build_session(settings)
    domain_models = f"+path:models/gold/{domain}"
    build = Build() if not whole_project else Build(select="fqn:*")

    def run(full_refresh: bool = False, audit: bool = False) -> float:
        chosen = Build(select=domain_models, full_refresh=True) if full_refresh else replace(build, audit=audit)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            _, outcome = run_pipeline(spark, settings, chosen, verbose=False)
        seconds = time.perf_counter() - start
        if outcome.failed:
            raise RuntimeError(f"{domain}: the run failed ({outcome})")
        return seconds

    try:
        land(outbox, settings.landing, arrivals[0])
        run()
        day1_rows = land(outbox, settings.landing, arrivals[1])
        day_at_1 = run()
        history_rows = land(outbox, settings.landing, [p for day in arrivals[2:days] for p in day])
        start = time.perf_counter()
        run()
        history_load = time.perf_counter() - start
        dayn_rows = land(outbox, settings.landing, arrivals[days])
        day_at_n = run()
        audited_rows = land(outbox, settings.landing, arrivals[days + 1])
        audited = run(audit=True)
        full_refresh = run(full_refresh=True)
    finally:
        spark.stop()
    return {
        "day_at_1": (day_at_1, day1_rows),
        "history_load": (history_load, history_rows),
        "day_at_n": (day_at_n, dayn_rows),
        "audited_day_at_n": (audited, audited_rows),
        "full_refresh": (full_refresh, None),
    }


def run(args) -> dict:
    """The bench contract: figures and ratios for every domain in ``args.domains`` (default: all)."""
    days = getattr(args, "days", None) or (365 if args.full else 30)
    scale = getattr(args, "scale", None) or 1.0
    # `make bench` (default sizes): the two domains with the largest days; `make bench-full`: all five
    domains = getattr(args, "domains", None) or (list(GENERATORS) if args.full else ["airline", "events"])
    whole_project = bool(getattr(args, "whole_project", False))
    workdir = Path(args.workdir)
    if len(domains) > 1:
        return each_domain_in_its_own_process(args, domains, days, scale, workdir, whole_project)
    figures, ratios = [], []
    for domain in domains:
        measured = measure_domain(domain, days, scale, workdir, whole_project)
        notes = {
            "day_at_1": "one new day, 1 day loaded",
            "history_load": f"days 3..{days} loaded in one run (setup, not a goal)",
            "day_at_n": f"one new day, {days} days loaded",
            "audited_day_at_n": f"one new day with --audit, {days + 1} days loaded",
            "full_refresh": f"--full-refresh of the domain, {days + 2} days",
        }
        for key, (seconds, rows) in measured.items():
            name = key.replace("_at_1", "@1").replace("_at_n", f"@{days}").replace("_refresh", f"_refresh@{days}")
            name = name.replace("audited_", "audited ")
            figures.append({"name": f"{domain} {name}", "seconds": round(seconds, 2), "rows": rows, "note": notes[key]})
        flat = measured["day_at_n"][0] / measured["day_at_1"][0]
        cheaper = measured["full_refresh"][0] / measured["day_at_n"][0]
        ratios.append(
            {"name": f"{domain} day@{days} / day@1", "value": round(flat, 2), "goal": "<= 1.2", "met": flat <= 1.2}
        )
        ratios.append(
            {
                "name": f"{domain} full_refresh@{days} / day@{days}",
                "value": round(cheaper, 2),
                "goal": ">= 50",
                "met": cheaper >= 50,
            }
        )
        audits = measured["audited_day_at_n"][0] / measured["day_at_n"][0]
        ratios.append({"name": f"{domain} audited day@{days} / day@{days}", "value": round(audits, 2), "goal": "info"})
    return {"figures": figures, "ratios": ratios}


def each_domain_in_its_own_process(args, domains, days, scale, workdir, whole_project) -> dict:
    """One process (one JVM, one embedded metastore) per domain: Hive's metastore client outlives
    ``spark.stop()`` in a JVM, so a second home in the same process would not get its own catalog."""
    import subprocess

    figures, ratios = [], []
    for domain in domains:
        out = workdir / f"{domain}.json"
        command = [sys.executable, __file__, "--domains", domain, "--days", str(days), "--scale", str(scale)]
        command += ["--workdir", str(workdir / domain), "--json", str(out)]
        command += ["--whole-project"] if whole_project else []
        (workdir / domain).mkdir(parents=True, exist_ok=True)
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{domain}: the bench failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
        result = json.loads(out.read_text())
        figures += result["figures"]
        ratios += result["ratios"]
    return {"figures": figures, "ratios": ratios}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="365 days of history (make bench-full)")
    p.add_argument("--days", type=int, help="days of history N (default 30, 365 with --full)")
    p.add_argument("--scale", type=float, help="daily size factor (default 1)")
    p.add_argument("--domains", nargs="+", choices=list(GENERATORS), help="default: airline events; all with --full")
    p.add_argument("--whole-project", action="store_true", help="build every model, not the domain's")
    p.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the result here")
    return p


def main() -> None:
    args = parser().parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.workdir is None:
            args.workdir = Path(tmp)
        result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(f"\n{'figure':44} {'seconds':>9} {'rows':>10}  note")
    for figure in result["figures"]:
        rows = "" if figure["rows"] is None else f"{figure['rows']:,}"
        print(f"{figure['name']:44} {figure['seconds']:9.1f} {rows:>10}  {figure['note']}")
    print(f"\n{'ratio':44} {'value':>9} {'goal':>10}  met")
    for ratio in result["ratios"]:
        met = "" if "met" not in ratio else "yes" if ratio["met"] else "NO"
        print(f"{ratio['name']:44} {ratio['value']:9.2f} {ratio['goal']:>10}  {met}")


if __name__ == "__main__":
    main()
