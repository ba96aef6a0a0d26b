"""Run dbt in-process, in the JVM ingestion already started.

dbt-spark's ``method: session`` calls ``SparkSession.builder.getOrCreate()``, which returns the
session ``ingestion.spark.build_session`` created: one JVM, one metastore owner, one start-up.

The AWS targets (``--target glue`` or ``athena``, or ``LAKEHOUSE_TARGET``) run on AWS: no local
Spark is started; dbt-glue gets its sessions' Spark settings from ``LAKEHOUSE_GLUE_SPARK_CONF``
(``ingestion.spark.dbt_glue_spark_conf``), set here in-process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.aws import AwsSettings
from ingestion.config import PROFILES_DIR, PROJECT_DIR, ConfigError, Settings
from ingestion.faults import checkpoint
from ingestion.spark import dbt_glue_spark_conf, glue_conf_argument, spark_conf_json

FAILED = {"error", "fail", "runtime error"}

CHECK_ENV = "LAKEHOUSE_CHECK_BATCHES_AFTER"
"""Data tests marked ``incremental_check`` read only rows of batches after this one, or what a build can
have written since it (``macros/incremental_checks.sql``): set by ``lakehouse run`` for an incremental build
(``lakehouse.selection.Plan.checked_after``), empty for every other dbt call."""
LOCAL = "local"
AWS_TARGETS = ("glue", "athena")
TARGETS = (LOCAL, *AWS_TARGETS)
"""The outputs of profiles/profiles.yml."""


@dataclass
class NodeResult:
    name: str
    resource_type: str
    status: str
    relation: str | None = None
    rows: int | None = None
    seconds: float = 0.0
    message: str | None = None
    failures: int | None = None
    unique_id: str = ""


@dataclass
class DbtOutcome:
    command: list[str]
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    error: str | None = None
    selection: dict | None = None
    """What a run chose to build and why (``lakehouse.selection.Plan.report``); None for ``lakehouse dbt``."""

    def count(self, resource_types: set[str], status: str) -> int:
        return sum(1 for n in self.nodes if n.resource_type in resource_types and n.status == status)

    @property
    def failed(self) -> bool:
        return not self.success or any(n.status in FAILED for n in self.nodes)


def target_of(settings: Settings, args: Sequence[str] = ()) -> str:
    """The dbt target a command line runs on: its ``--target``/``-t``, else ``LAKEHOUSE_TARGET``."""
    target = settings.dbt_target
    words = list(args)
    for index, word in enumerate(words):
        if word in ("--target", "-t") and index + 1 < len(words):
            target = words[index + 1]
        elif word.startswith("--target="):
            target = word.split("=", 1)[1]
    if target not in TARGETS:
        raise ConfigError(f"unknown dbt target {target!r}; one of {', '.join(TARGETS)} (profiles/profiles.yml)")
    return target


def dbt_environment(settings: Settings, target: str | None = None) -> dict[str, str]:
    """Environment a dbt process needs for ``target`` (default: ``settings.dbt_target``). The AWS
    targets keep their dbt artifacts apart from the local ones (``dbt/target-glue``, ...)."""
    target = target or settings.dbt_target
    if target == LOCAL:
        engine = {"LAKEHOUSE_SPARK_CONF_JSON": spark_conf_json(settings)}
        target_dir = settings.dbt_target_dir
    else:
        engine = {"LAKEHOUSE_GLUE_SPARK_CONF": glue_conf_argument(dbt_glue_spark_conf(AwsSettings.from_env()))}
        target_dir = settings.dbt_target_dir.with_name(f"target-{target}")
    return {
        **engine,
        "LAKEHOUSE_HOME": str(settings.home),
        "LAKEHOUSE_TARGET": target,
        "DBT_PROFILES_DIR": str(PROFILES_DIR),
        "DBT_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(settings.dbt_log_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


@contextlib.contextmanager
def dbt_env(
    settings: Settings,
    target: str | None = None,
    extra: dict[str, str] | None = None,
    args: Sequence[str] | None = None,
) -> Iterator[None]:
    """``dbt_environment(settings)`` in ``os.environ`` for the duration of one in-process dbt call, and
    the previous values back after it. On the local target, the call also shares dbt's parse between
    homes (``seed_parse``, ``share_parse``); ``args``: the call's dbt arguments, when it parses the project.

    Why the environment at all: dbt reads its configuration from there, not from arguments we could
    pass. ``profiles/profiles.yml`` renders ``env_var('LAKEHOUSE_SPARK_CONF_JSON')`` and
    ``env_var('LAKEHOUSE_TARGET')`` (the same profile serves a bare ``dbt``, see ``lakehouse env``), and
    dbt's own ``DBT_*`` variables are the defaults of its command-line options, so any dbt command
    line (``lakehouse dbt <anything>``) gets the lakehouse's project, profile, target and log paths
    without rewriting the user's arguments. Nothing else in the process reads them.
    """
    values = {CHECK_ENV: "", **dbt_environment(settings, target), **(extra or {})}  # never inherited
    saved = {key: os.environ.get(key) for key in values}
    parse = Path(values["DBT_TARGET_PATH"]) / PARTIAL_PARSE
    local = values["LAKEHOUSE_TARGET"] == LOCAL
    if local and not parse.exists():
        seed_parse(parse, shared_parse())
    written = modified_at(parse)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # dbt rewrites its parse only when it parsed again: only then may it serve other homes
        if local and args is not None and not has_vars(args) and modified_at(parse) != written:
            share_parse(parse, shared_parse())


PARTIAL_PARSE = "partial_parse.msgpack"


def parse_cache() -> Path | None:
    """The folder where homes share dbt's parse (``~/.cache/lakehouse/dbt-parse/``, or under
    ``$XDG_CACHE_HOME``); None without a home folder to put it in."""
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lakehouse" / "dbt-parse"
    except RuntimeError:  # no home directory
        return None


def shared_parse() -> Path | None:
    """The shared parse of this checkout's project as it is now: one file per checkout, named by the
    project's fingerprint (every file dbt reads, dbt's versions; ``lakehouse.selection.fingerprint``), so
    a new home only ever starts from a parse of the very same files (dbt then has nothing to parse)."""
    from lakehouse.selection import fingerprint

    cache = parse_cache()
    if cache is None:
        return None
    checkout = hashlib.sha256(str(PROJECT_DIR.resolve()).encode()).hexdigest()[:12]
    return cache / f"{checkout}-{fingerprint()[:16]}.msgpack"


def modified_at(path: Path) -> float | None:
    """The file's modification time; None when it is not there."""
    with contextlib.suppress(OSError):
        return path.stat().st_mtime
    return None


def seed_parse(parse: Path, shared: Path | None) -> None:
    """A home without a parse of its own starts from the shared one; dbt still checks it (its version,
    the CLI vars, every file's checksum) and parses again what differs. Best effort: without a copy,
    dbt parses the project itself."""
    if shared is None or parse.exists() or not shared.is_file():
        return
    with contextlib.suppress(OSError):
        parse.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shared, parse)


def share_parse(parse: Path, shared: Path | None) -> None:
    """After a call without ``--vars`` that parsed again (a parse any new home can use): this home's parse
    becomes the shared one when it is newer, written aside and renamed (a reader never sees half a
    file); the checkout's parses of older project versions, and copies a killed writer left aside, are
    removed."""
    if shared is None:
        return
    with contextlib.suppress(OSError):
        if not parse.is_file() or (shared.is_file() and shared.stat().st_mtime >= parse.stat().st_mtime):
            return
        shared.parent.mkdir(parents=True, exist_ok=True)
        handle, aside = tempfile.mkstemp(dir=shared.parent, prefix=".", suffix=".tmp")
        os.close(handle)
        try:
            shutil.copy2(parse, aside)
            os.replace(aside, shared)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(aside)
        checkout = shared.name.split("-", 1)[0]
        hour_ago = time.time() - 3600
        for path in shared.parent.iterdir():
            older = path.name.startswith(f"{checkout}-") and path != shared
            stale = path.name.endswith(".tmp") and path.stat().st_mtime < hour_ago
            if older or stale:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def has_vars(args: Sequence[str]) -> bool:
    """Whether a dbt command line gives ``--vars`` (a parse with them is no start for another home)."""
    return any(word == "--vars" or word.startswith("--vars=") for word in args)


def usage_problem(settings: Settings, args: Sequence[str]) -> str | None:
    """dbt's own message when ``dbt <args>`` is not a valid command line (unknown command or
    option, missing value), found by dbt's command-line parser alone: nothing runs, no Spark."""
    import click
    from dbt.cli.main import cli as dbt_cli

    if HELP.intersection(args):
        return None  # dbt prints its help or version itself

    def parse(command: click.Command, name: str, words: list[str], parent: click.Context | None) -> None:
        with command.make_context(name, words, parent=parent) as ctx:
            rest = [*ctx.protected_args, *ctx.args] if isinstance(command, click.Group) else []
            if rest:
                sub_name, sub, sub_words = command.resolve_command(ctx, rest)
                if sub is not None and sub_name is not None:
                    parse(sub, sub_name, sub_words, ctx)

    with dbt_env(settings, target_of(settings, args)):
        try:
            parse(dbt_cli, "dbt", list(args), None)
        except click.exceptions.UsageError as exc:
            return exc.format_message()
        except (click.exceptions.Exit, click.exceptions.Abort):
            return None
    return None


HELP = {"-h", "--help", "-v", "-V", "--version"}


def list_nodes(settings: Settings, args: Sequence[str]) -> tuple[list[str], str | None]:
    """``dbt ls <args>`` in-process, without Spark (dbt parses the project, saving the parse for the
    build that follows): the unique ids selected, and dbt's error message if it failed."""
    from dbt.cli.main import dbtRunner

    with dbt_env(settings, target_of(settings, args), args=args), contextlib.redirect_stdout(io.StringIO()):
        result = dbtRunner().invoke(["--quiet", "ls", "--output", "name", *args])
    if not result.success:
        text = str(result.exception or "dbt ls failed").strip()
        return [], text.splitlines()[0] if text else "dbt ls failed"
    return list(result.result or []), None


@dataclass(frozen=True)
class Relation:
    """A table dbt builds (a model that is not a view, or a seed), from the project's manifest."""

    name: str
    """``schema.alias``, e.g. ``silver.subscriptions``."""
    layer: str | None
    """The models folder it is under (``staging``, ``silver``, ``gold``); None for a seed."""
    domain: str | None
    """Its domain folder (``models/<layer>/<domain>/``), the registry's ``Source.domain``."""
    node: str = ""
    """The dbt node's name (what a selector names)."""


def list_relations(settings: Settings, args: Sequence[str] = ()) -> list[Relation]:
    """``dbt ls <args>`` in-process, without Spark: the tables the selection builds, in dbt's order.
    Raises ``RuntimeError`` with dbt's message if the project does not parse."""
    import json

    from dbt.cli.main import dbtRunner

    keys = "resource_type schema alias name fqn config"
    with dbt_env(settings, target_of(settings, args), args=args), contextlib.redirect_stdout(io.StringIO()):
        result = dbtRunner().invoke(
            ["--quiet", "ls", "--resource-type", "model", "seed", "--output", "json", "--output-keys", keys, *args]
        )
    if not result.success:
        raise RuntimeError(f"dbt ls failed: {result.exception}")
    relations = []
    for node in map(json.loads, result.result or []):
        if node["config"].get("materialized") in ("view", "ephemeral"):
            continue
        fqn = node["fqn"]
        layer, domain = (fqn[1], fqn[2]) if node["resource_type"] == "model" and len(fqn) > 3 else (None, None)
        relations.append(Relation(f"{node['schema']}.{node.get('alias') or node['name']}", layer, domain, node["name"]))
    return relations


def run_dbt(
    spark,
    settings: Settings,
    args: Sequence[str],
    quiet: bool = True,
    on_event: Callable | None = None,
    env: dict[str, str] | None = None,
) -> DbtOutcome:
    """Invoke ``dbt <args>`` in-process and collect per-node results (with row counts of models when
    ``spark`` is given: the local target; the AWS targets run with ``spark=None``). ``on_event`` gets
    every dbt event (``EventMsg``, dbt's own callback) as it happens: live progress. ``env``: more
    environment variables for this call only (``CHECK_ENV``)."""
    from dbt.cli.main import dbtRunner

    command = list(args)
    if quiet and "--quiet" not in command and "-q" not in command:
        command = ["--quiet", *command]
    finished = 0

    def crash_points(event) -> None:  # crash points for the kill tests: dbt_node:<n> after n nodes
        nonlocal finished
        if event.info.name == "NodeFinished":
            finished += 1
            checkpoint(f"dbt_node:{finished}")

    callbacks = [crash_points] + ([on_event] if on_event else [])
    with dbt_env(settings, target_of(settings, args), env, args=command):
        result = dbtRunner(callbacks=callbacks).invoke(command)
    outcome = DbtOutcome(command=command, success=bool(result.success))
    if result.exception is not None:
        outcome.error = str(result.exception).strip()
    results = getattr(result.result, "results", None) or []
    for item in results:
        node = item.node
        status = str(getattr(item.status, "value", item.status))
        entry = NodeResult(
            name=node.name,
            resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
            status=status,
            relation=getattr(node, "relation_name", None),
            seconds=round(float(item.execution_time or 0.0), 2),
            message=item.message,
            failures=item.failures,
            unique_id=getattr(node, "unique_id", ""),
        )
        counted = ("model", "seed", "snapshot")
        materialized = getattr(getattr(node, "config", None), "materialized", None)
        if spark is not None and entry.resource_type in counted and status == "success" and entry.relation:
            entry.rows = None if materialized == "view" else stored_rows(spark, entry.relation)
        outcome.nodes.append(entry)
    return outcome


def stored_rows(spark, table: str) -> int:
    """The rows ``table`` holds now: its current Iceberg snapshot's ``total-records`` (table metadata,
    no Spark job), or ``count(*)`` when that is not exact (delete files) or not there (not Iceberg).

    A view has no stored rows: counting one would run its query over the history beneath it, a cost
    that grows with every run (``run_dbt`` leaves views' rows empty)."""
    from py4j.protocol import Py4JError
    from pyspark.errors.exceptions.captured import CapturedException

    try:
        iceberg = spark._jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, table)
        snapshot = iceberg.currentSnapshot()
        if snapshot is None:
            return 0
        summary = snapshot.summary()
        if summary.get("total-records") is not None and str(summary.get("total-delete-files")) == "0":
            return int(summary.get("total-records"))
    except (Py4JError, CapturedException, AttributeError):  # not Iceberg, or no JVM catalog: count instead
        pass
    return spark.sql(f"select count(*) from {table}").first()[0]
