"""What ``lakehouse run`` builds: only what changed since the last successful build.

A plain run (no ``--select``, no ``--full-refresh``) builds, with their tests:

- the models downstream of the bronze tables that received rows from batches committed since the last
  successful build (this run's batch, and any an earlier run committed but did not build: its dbt build
  failed or was killed, or it was ``lakehouse ingest``);
- the models whose definition changed since then (dbt's ``state:modified+`` against the manifest of
  that build), and those a build since then ran with another definition or other vars (``dirty``);
- the models tagged ``as_of_date`` (and downstream) when the effective as-of date changed.

Such an incremental build (without ``--audit``) does less checking where checking costs history:

- it leaves out the audit tests (tag ``audit``): each compares a table with a rebuild of its whole
  history. Every other build runs them (a full build, ``--select`` for what it selects,
  ``--full-refresh``), and ``--audit`` adds every one of them to an incremental build;
- the data tests marked ``meta: {incremental_check: ...}`` (``macros/incremental_checks.sql``) read
  only the rows of batches after the last successful build (``lakehouse.dbt_runner.CHECK_ENV``), or
  the rows a build can have written and those sharing a key with them (the mapping form), when
  that build built every source through its batch, no project file changed since (a new or edited
  test runs on every row) and only new batches are built now: older rows passed these very tests
  then, and no build has changed them since.

With nothing of that it skips dbt. Everything is built when there is no record of a successful build
(a new home, after ``reset``, ``repair``, a ``lakehouse dbt`` command that writes, a ``--full-refresh``
that did not finish), when the ledger does not match the record, or when ``--vars`` (other than
``as_of_date``) differ. ``--select`` and ``--full-refresh`` build what they name; they move the record
only for what they fully built.

The record is ``$LAKEHOUSE_HOME/last-build/record.json`` with the manifest of that build in a folder
beside it; only ``lakehouse run`` (and the demo) write it, atomically, and only after dbt succeeded
(before a build it is only ever made more conservative).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from ingestion.config import PROJECT_DIR, Settings
from ingestion.ledger import CommittedBatch
from ingestion.registry import QUARANTINE_TABLE, SOURCES
from lakehouse.dbt_runner import DbtOutcome, dbt_env, target_of

AS_OF_TAG = "as_of_date"
"""Models that read the as-of date (``macros/as_of_date.sql``) carry this tag in their yml."""
AUDIT_TAG = "audit"
"""Singular tests that compare a table with a rebuild of its whole history (``tests/dbt/``)."""
BUILT_TYPES = ("model", "seed", "snapshot")
RECORD_VERSION = 1
PROJECT_PATHS = ("model-paths", "macro-paths", "seed-paths", "test-paths", "snapshot-paths", "analysis-paths")
READ_ONLY_DBT = {"ls", "list", "compile", "parse", "docs", "debug", "deps", "test", "show", "source", "clean"}
"""``lakehouse dbt`` commands that write no table: they keep the record (every other one forgets it)."""


def record_dir(settings: Settings) -> Path:
    return settings.home / "last-build"


# --- inputs: the project, the vars, the ledger -----------------------------------------------------
def fingerprint(project_dir: Path = PROJECT_DIR) -> str:
    """A hash of every file dbt reads to define the models (and of dbt's versions): equal means no
    definition can have changed, so the dbt state comparison is not even needed."""
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    digest = hashlib.sha256(f"dbt-core {version('dbt-core')} dbt-spark {version('dbt-spark')}".encode())
    digest.update((project_dir / "dbt_project.yml").read_bytes())
    defaults = {"model-paths": ["models"], "macro-paths": ["macros"], "seed-paths": ["seeds"]}
    folders = sorted({folder for key in PROJECT_PATHS for folder in config.get(key, defaults.get(key, []))})
    for folder in folders:
        root = project_dir / folder
        for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []:
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def vars_of(dbt_vars: str | None) -> tuple[str | None, dict[str, Any]]:
    """(the ``as_of_date`` var as dbt renders it, or None; the other vars as JSON-able values)."""
    parsed = yaml.safe_load(dbt_vars) if dbt_vars else None
    values = dict(parsed) if isinstance(parsed, dict) else {}
    given = values.pop("as_of_date", None)
    as_of = None if given is None or not str(given).strip() else str(given).strip()
    return as_of, json.loads(json.dumps(values, default=str, sort_keys=True))


def today_utc() -> str:
    """The as-of date dbt uses without the var (``run_started_at``, UTC)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class LedgerView:
    latest: int
    """The newest committed batch (0: none)."""
    latest_us: int | None
    """Its commit time: a ledger built again from scratch does not match a record of the old one."""
    batches: dict[str, list[int]]
    """Bronze table (and the quarantine) -> the batches that wrote rows to it."""
    commits: dict[int, int]


def read_ledger(rows: Iterable[CommittedBatch]) -> LedgerView:
    tables = {s.name: s.table for s in SOURCES}
    batches: dict[str, set[int]] = {}
    commits: dict[int, int] = {}
    for row in rows:
        commits[row.batch_id] = row.committed_us
        if row.rows_ingested and row.source in tables:
            batches.setdefault(tables[row.source], set()).add(row.batch_id)
        if row.rows_quarantined:
            batches.setdefault(QUARANTINE_TABLE, set()).add(row.batch_id)
    latest = max(commits, default=0)
    return LedgerView(latest, commits.get(latest), {t: sorted(b) for t, b in batches.items()}, commits)


# --- the record of the last successful build ------------------------------------------------------
@dataclass
class Record:
    built_at: str
    batch: int
    batch_us: int | None
    through: dict[str, int]
    """Bronze table -> the newest batch whose rows every model downstream of it was built with."""
    fingerprint: str
    state: str
    """The folder (under ``last-build/``) holding that build's ``manifest.json``."""
    as_of_date: str | None
    vars: dict[str, Any]
    dirty: list[str] = field(default_factory=list)
    """Nodes a later build ran with another definition or vars than the record's (rebuilt next run)."""
    incomplete: str | None = None
    """Set before a ``--full-refresh``; a record still marked so is no record (it never finished)."""
    version: int = RECORD_VERSION


def load_record(settings: Settings) -> Record | None:
    path = record_dir(settings) / "record.json"
    try:
        record = Record(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if record.version != RECORD_VERSION or not (record_dir(settings) / record.state / "manifest.json").is_file():
        return None
    return record


def save_record(settings: Settings, record: Record) -> None:
    """Atomically (write aside, rename); folders of older manifests are removed after."""
    folder = record_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / "record.json.tmp"
    temporary.write_text(json.dumps(record.__dict__, indent=2, sort_keys=True))
    os.replace(temporary, folder / "record.json")
    for old in folder.glob("state-*"):
        if old.name != record.state:
            shutil.rmtree(old, ignore_errors=True)


def forget_record(settings: Settings) -> None:
    """The next run builds everything (``repair``, a ``lakehouse dbt`` command that writes)."""
    with contextlib.suppress(FileNotFoundError):
        (record_dir(settings) / "record.json").unlink()


def keep_manifest(settings: Settings) -> str:
    """Copy the manifest the build just wrote into a new state folder; its name."""
    name = f"state-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%f')}"
    target = record_dir(settings) / name
    target.mkdir(parents=True)
    shutil.copy2(settings.dbt_target_dir / "manifest.json", target / "manifest.json")
    return name


# --- the project graph, from a manifest.json ------------------------------------------------------
class Graph:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
        self.children: dict[str, list[str]] = manifest.get("child_map", {})
        self.by_relation = {f"{s['schema']}.{s['identifier']}": uid for uid, s in manifest.get("sources", {}).items()}

    @classmethod
    def read(cls, path: Path) -> Graph:
        return cls(json.loads(path.read_text()))

    def built(self) -> set[str]:
        return {uid for uid, n in self.nodes.items() if n.get("resource_type") in BUILT_TYPES}

    def downstream(self, ids: Iterable[str]) -> set[str]:
        """``ids`` and everything below them that a build builds (models, seeds, snapshots)."""
        seen, todo = set(), list(ids)
        while todo:
            uid = todo.pop()
            if uid not in seen:
                seen.add(uid)
                todo += self.children.get(uid, [])
        return seen & self.built()

    def tagged(self, tag: str) -> set[str]:
        return {uid for uid in self.built() if tag in self.nodes[uid].get("tags", [])}

    def tests_of(self, ids: set[str], tag: str) -> set[str]:
        """The tests tagged ``tag`` that a build of ``ids`` runs (dbt's eager indirect selection: a
        test is selected when any node it depends on is)."""
        return {
            uid
            for uid, node in self.nodes.items()
            if node.get("resource_type") == "test"
            and tag in node.get("tags", [])
            and ids & set(node.get("depends_on", {}).get("nodes", []))
        }

    def source_selector(self, uid: str) -> str:
        node = self.nodes[uid]
        return f"source:{node['source_name']}.{node['name']}+"


# --- the plan -------------------------------------------------------------------------------------
@dataclass
class Reason:
    what: str
    """e.g. "downstream of telecom", "definition changed", "as_of_date"."""
    why: str
    models: int


@dataclass
class Plan:
    mode: str
    """``skip``, ``changed`` (only what changed), ``everything``, ``as given`` (--select/--full-refresh),
    ``audit`` (``--audit`` with nothing changed: the audit tests alone)."""
    select: str | None
    """The dbt selector of the build (None: everything)."""
    exclude: str | None = None
    """What the build leaves out (``tag:audit`` in an incremental build without ``--audit``)."""
    audits_left_out: int = 0
    checked_after: int | None = None
    """Tests marked ``incremental_check`` read only rows of batches after this one (None: every row)."""
    state: str | None = None
    """``--state`` folder for ``state:modified`` in the selector."""
    why: str = ""
    reasons: list[Reason] = field(default_factory=list)
    models: int = 0
    """Models (and seeds, snapshots) of the project."""
    skipped: int = 0
    pending: dict[str, list[int]] = field(default_factory=dict)
    """Bronze table -> batches not built yet (before this run's build)."""
    as_of_date: str = ""
    as_of_given: bool = False
    fingerprint: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    dirty: list[str] = field(default_factory=list)
    """Nodes this build runs with definitions or vars the record does not know (added before it)."""
    ledger: LedgerView | None = None
    unfinished: bool = False
    """A --full-refresh before this build did not finish: this one does not make up for it."""

    def report(self) -> dict[str, Any]:
        """What the run report JSON keeps (``dbt.selection``)."""
        keys = ("mode", "select", "exclude", "why", "reasons", "models", "skipped", "pending", "as_of_date")
        keys += ("audits_left_out", "checked_after")
        return {key: getattr(self, key) if key != "reasons" else [r.__dict__ for r in self.reasons] for key in keys}


def plan_build(settings: Settings, build: Any, ledger: LedgerView) -> Plan:
    """Decide what a run's ``dbt build`` builds (``build`` is ``lakehouse.pipeline.Build``)."""
    given_as_of, other_vars = vars_of(build.dbt_vars)
    as_of = given_as_of or today_utc()
    base = {"as_of_date": as_of, "as_of_given": given_as_of is not None, "vars": other_vars, "ledger": ledger}
    base["fingerprint"] = fingerprint()
    if build.select or build.full_refresh:
        flags = [f"--select {build.select!r}"] if build.select else []
        flags = " ".join(flags + ["--full-refresh"] * build.full_refresh)
        earlier = load_record(settings)
        plan = Plan("as given", build.select, why=f"{flags} as given", **base)
        plan.unfinished = earlier is not None and earlier.incomplete is not None
        return plan
    record = load_record(settings)
    everything = None
    if record is None or record.incomplete:
        everything = (
            "no record of a successful build (first run, after reset, repair, a `lakehouse dbt` command "
            "that writes, or a --full-refresh that did not finish)"
        )
    elif ledger.commits.get(record.batch) != record.batch_us or ledger.latest < record.batch:
        everything = "the ingestion ledger does not match the record of the last build"
    elif other_vars != record.vars:
        everything = f"--vars differ from the last build's ({json.dumps(record.vars)})"
    if everything is not None:
        return Plan("everything", None, why=everything, **base)
    assert record is not None
    state = record_dir(settings) / record.state
    graph = Graph.read(state / "manifest.json")
    selectors, groups, dirty = [], [], []
    modified: set[str] = set()
    changed_tests: set[str] = set()
    if base["fingerprint"] != record.fingerprint:
        ids, problem = modified_ids(settings, build.dbt_vars, state)
        if problem:
            return Plan("everything", None, why=f"dbt could not compare with the last build: {problem}", **base)
        graph = Graph.read(settings.dbt_target_dir / "manifest.json")
        modified = set(ids) & graph.built()
        changed_tests = {uid for uid in ids if graph.nodes.get(uid, {}).get("resource_type") == "test"}
        if modified or changed_tests:
            selectors.append("state:modified+")  # with a changed test alone: that test, on every row
        if modified:
            groups.append(("changed since the last build", "definition changed", modified))
            dirty = sorted(modified)
    pending = {t: [b for b in batches if b > record.through.get(t, 0)] for t, batches in ledger.batches.items()}
    pending = {t: b for t, b in pending.items() if b}
    domains = {s.table: s.domain for s in SOURCES}
    per_domain: dict[str, tuple[set[str], set[int]]] = {}
    for table, batches in sorted(pending.items()):
        uid = graph.by_relation.get(table)
        if uid is None:
            continue  # no model reads this table
        selectors.append(graph.source_selector(uid))
        nodes, seen = per_domain.setdefault(domains.get(table, table), (set(), set()))
        nodes |= graph.downstream([uid])
        seen |= set(batches)
    every_audit = graph.tests_of(graph.built(), AUDIT_TAG) if build.audit else set()
    if selectors and every_audit:
        selectors.append(f"tag:{AUDIT_TAG}")  # --audit: every audit, not only those of what is built
    for domain, (nodes, batches) in per_domain.items():
        groups.append((f"downstream of {domain}", f"new batch(es) {', '.join(map(str, sorted(batches)))}", nodes))
    leftover = [uid for uid in record.dirty if uid in graph.nodes and uid not in modified]
    if leftover:
        selectors += [f"{graph.nodes[uid]['name']}+" for uid in leftover]
        again = graph.downstream(leftover)
        groups.append(("built since with another definition or vars", "rebuilt as defined now", again))
    as_of_changed = as_of != record.as_of_date and bool(graph.tagged(AS_OF_TAG))
    if as_of_changed:
        selectors.append(f"tag:{AS_OF_TAG}+")
        last = record.as_of_date or "unknown"
        groups.append((f"with {AS_OF_TAG}", f"as-of {as_of} vs {last}", graph.downstream(graph.tagged(AS_OF_TAG))))
    total = len(graph.built())
    plan = Plan("changed", " ".join(selectors), models=total, pending=pending, dirty=dirty, **base)
    plan.state = str(state) if modified or changed_tests else None
    counted: set[str] = set()
    for what, why, nodes in groups:
        plan.reasons.append(Reason(what, why, len(nodes - counted)))
        counted |= nodes
    plan.skipped = total - len(counted)
    audits = graph.tests_of(counted, AUDIT_TAG)
    if audits and not build.audit:
        plan.exclude, plan.audits_left_out = f"tag:{AUDIT_TAG}", len(audits)
    # Checks may skip older rows only if they passed these very tests on them: no project file changed
    # since (a new or edited test, or a macro it uses: so no definition change either), the last build
    # was complete (so nothing dirty to rebuild), and no as-of change: only new batches are built now.
    fully_built = set(record.through.values()) == {record.batch} and not record.dirty
    unchanged = base["fingerprint"] == record.fingerprint
    if selectors and fully_built and unchanged and not as_of_changed and not build.audit:
        plan.checked_after = record.batch
    if not selectors and every_audit:
        plan.mode, plan.select = "audit", f"tag:{AUDIT_TAG}"
        plan.why = f"nothing changed since the last successful build ({record.built_at}); --audit runs the audits"
    elif not selectors:
        plan.mode, plan.select = "skip", None
        if plan.fingerprint != record.fingerprint:  # files changed, no definition did: compare less next time
            save_record(settings, replace(record, fingerprint=plan.fingerprint))
        plan.why = (
            f"nothing changed since the last successful build ({record.built_at}): no new batch, "
            f"no model change, as-of {as_of} as then"
        )
    return plan


def modified_ids(settings: Settings, dbt_vars: str | None, state: Path) -> tuple[list[str], str | None]:
    """``dbt ls --select state:modified+`` against ``state`` (no Spark): the unique ids of the models,
    seeds, snapshots and data tests, or dbt's error.
    It parses the project, leaving the current manifest in the target folder."""
    from dbt.cli.main import dbtRunner

    args = ["--quiet", "ls", "--select", "state:modified+", "--state", str(state), "--output", "json"]
    args += ["--output-keys", "unique_id", "--resource-type", *BUILT_TYPES, "test"]
    args += ["--vars", dbt_vars] if dbt_vars else []
    with dbt_env(settings, target_of(settings, args), args=args), contextlib.redirect_stdout(io.StringIO()):
        result = dbtRunner().invoke(args)
    if not result.success:
        text = str(result.exception or "dbt ls failed").strip()
        return [], text.splitlines()[0] if text else "dbt ls failed"
    return [json.loads(line)["unique_id"] for line in result.result or []], None


def selected_ids(settings: Settings, build_args: Sequence[str]) -> set[str]:
    """The models a ``--select`` build names (``dbt ls``, no Spark)."""
    from dbt.cli.main import dbtRunner

    args = ["--quiet", "ls", "--output", "json", "--output-keys", "unique_id", "--resource-type", *BUILT_TYPES]
    with (
        dbt_env(settings, target_of(settings, build_args), args=[*args, *build_args]),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        result = dbtRunner().invoke([*args, *build_args])
    return {json.loads(line)["unique_id"] for line in result.result or []} if result.success else set()


# --- before and after the build -------------------------------------------------------------------
def before_build(settings: Settings, plan: Plan, build_args: Sequence[str]) -> None:
    """Make the record conservative for a build that may fail or be killed half-way."""
    record = load_record(settings)
    if record is None or plan.mode == "audit":  # tests alone: the tables stay as the record says
        return
    if plan.mode == "everything":
        forget_record(settings)
        return
    changed = False
    if plan.as_of_date != record.as_of_date:
        record.as_of_date, changed = None, True  # as-of models may be rebuilt with another date
    dirty = set(plan.dirty)
    if plan.mode == "as given" and (plan.fingerprint != record.fingerprint or plan.vars != record.vars):
        dirty |= selected_ids(settings, list(build_args)[1:])
    if plan.mode == "as given" and plan.select is None:
        dirty = set()  # everything: the record is replaced if it succeeds, marked incomplete meanwhile
    if not dirty <= set(record.dirty):
        record.dirty, changed = sorted(dirty | set(record.dirty)), True
    if plan.mode == "as given" and " --full-refresh" in f" {' '.join(build_args)}":
        record.incomplete, changed = f"--full-refresh started at {dt.datetime.now(dt.UTC).isoformat()}", True
    if changed:
        save_record(settings, record)


def after_build(settings: Settings, plan: Plan, outcome: DbtOutcome) -> None:
    """After a successful build: the new record (only what was fully built moves it)."""
    if outcome.failed or plan.ledger is None or plan.mode == "audit":
        return
    ledger = plan.ledger
    # without the var dbt used the day its build started: if that was after midnight, it is unknown
    as_of = plan.as_of_date if plan.as_of_given or plan.as_of_date == today_utc() else None
    if plan.mode in ("changed", "everything") or (plan.mode == "as given" and plan.select is None):
        tables = {s.table for s in SOURCES} | {QUARANTINE_TABLE} | set(ledger.batches)
        record = Record(
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            batch=ledger.latest,
            batch_us=ledger.latest_us,
            through=dict.fromkeys(sorted(tables), ledger.latest),
            fingerprint=plan.fingerprint,
            state=keep_manifest(settings),
            as_of_date=as_of,
            vars=plan.vars,
        )
        save_record(settings, record)
        return
    record = load_record(settings)
    if record is None:
        return
    graph = Graph.read(settings.dbt_target_dir / "manifest.json")
    done = {n.unique_id for n in outcome.nodes if n.status == "success"}
    for table, batches in ledger.batches.items():
        uid = graph.by_relation.get(table)
        if uid is None or graph.downstream([uid]) <= done:
            record.through[table] = max(record.through.get(table, 0), max(batches))
    as_of_models = graph.downstream(graph.tagged(AS_OF_TAG))
    if as_of_models and as_of_models <= done and plan.vars == record.vars:
        record.as_of_date = as_of
    incomplete = record.incomplete if plan.unfinished else None
    record = replace(record, batch=ledger.latest, batch_us=ledger.latest_us, incomplete=incomplete)
    save_record(settings, record)


# --- what the run says ----------------------------------------------------------------------------
def plan_summary(plan: Plan) -> str:
    if plan.mode == "skip":
        return f"dbt: skipped, {plan.why}"
    if plan.mode == "audit":
        return f"dbt: the audit tests only: {plan.why}"
    if plan.mode != "changed":
        return f"dbt: building {'everything' if plan.select is None else 'the selection'}: {plan.why}"
    parts = [f"{r.models} model(s) {r.what} ({r.why})" for r in plan.reasons if r.models]
    built = plan.models - plan.skipped
    text = f"dbt: building {built} of {plan.models} model(s): {', '.join(parts) or 'tests only'}"
    text += f"; skipped {plan.skipped}: nothing changed for them" if plan.skipped else ""
    if plan.checked_after is not None:
        text += f"; incremental checks read batches after {plan.checked_after}"
    if plan.select and f"tag:{AUDIT_TAG}" in plan.select.split():
        text += "; with every audit test (--audit)"
    if plan.audits_left_out:
        text += (
            f"; left out {plan.audits_left_out} audit test(s) (tag:{AUDIT_TAG}: each rebuilds its table's whole "
            "history to compare; `lakehouse run --audit` runs them)"
        )
    return text
