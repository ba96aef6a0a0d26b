"""``lakehouse run`` and ``lakehouse ingest``: ingest every new landing file, then ``dbt build``;
the checks of their options made before any work, and the verdict on quarantined rows."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ingestion.config import ConfigError, Settings
from ingestion.ingest import IngestReport, ingest, no_progress
from ingestion.ledger import Ledger
from ingestion.registry import SOURCES, get_source
from lakehouse.dbt_runner import CHECK_ENV, DbtOutcome, list_nodes, run_dbt
from lakehouse.errors import FAILED, OK
from lakehouse.output import echo, error
from lakehouse.report import dbt_summary, ingest_summary, never_arrived_warnings
from lakehouse.selection import after_build, before_build, plan_build, plan_summary, read_ledger

VARS_EXAMPLE = "--vars '{as_of_date: 2021-03-01}'"


@dataclass(frozen=True)
class Build:
    """What ``dbt build`` a run asks for.

    dbt unit tests check SQL logic on fixed inputs, not data: like dbt recommends for production,
    a run leaves them out unless ``unit_tests`` (``make dbt-test`` runs them once in CI).
    """

    select: str | None = None
    full_refresh: bool = False
    dbt_vars: str | None = None
    unit_tests: bool = False
    state: str | None = None
    """``--state``: the last successful build's manifest, for ``state:modified`` (``lakehouse.selection``)."""
    audit: bool = False
    """``--audit``: an incremental build checks everything (the audit tests, ``lakehouse.selection.AUDIT_TAG``,
    and every row); with nothing changed, the audit tests alone."""
    exclude: str | None = None
    """``--exclude``: what the plan leaves out (the audit tests of an incremental build)."""

    def args(self) -> list[str]:
        """``dbt build``'s arguments; without ``build``, those ``check_select``'s ``dbt ls`` takes."""
        args = ["build"]
        if not self.unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        if self.select:
            args += ["--select", self.select]
        if self.exclude:
            args += ["--exclude", self.exclude]
        if self.full_refresh:
            args.append("--full-refresh")
        if self.dbt_vars:
            args += ["--vars", self.dbt_vars]
        if self.state:
            args += ["--state", self.state]
        return args


def check_vars(dbt_vars: str | None) -> str | None:
    """``--vars`` must be a YAML mapping (dbt's own format), checked before any work."""
    if dbt_vars is None:
        return None
    import yaml

    try:
        parsed = yaml.safe_load(dbt_vars)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"--vars is not valid YAML ({problem}{where}); e.g. {VARS_EXAMPLE}") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"--vars must be a YAML mapping of names to values, e.g. {VARS_EXAMPLE}")
    return dbt_vars


def check_select(settings: Settings, build: Build) -> None:
    """``--select`` must match something, checked (dbt ls, no Spark) before any ingestion."""
    nodes, problem = list_nodes(settings, replace(build, full_refresh=False).args()[1:])
    if problem:
        raise ConfigError(f"--select {build.select!r}: {problem}")
    if not nodes:
        raise ConfigError(
            f"--select {build.select!r} matches no model, seed, snapshot or test; nothing was run "
            "(list them with `lakehouse dbt ls`)"
        )


def check_local_target(settings: Settings) -> None:
    """``lakehouse run`` ingests into the local warehouse and builds it: a glue/athena target would build
    AWS tables from AWS bronze that this run never wrote. On AWS the state machine runs both steps."""
    from lakehouse.dbt_runner import LOCAL, target_of

    target = target_of(settings)
    if target != LOCAL:
        raise ConfigError(
            f"`lakehouse run` builds the local lakehouse, not the {target!r} target (LAKEHOUSE_TARGET): on AWS "
            "the deployed state machine runs ingestion and dbt; use `lakehouse dbt build --target "
            f"{target}` for dbt alone"
        )


def check_source(name: str | None) -> None:
    """``--source`` must name a source of the registry."""
    if name is None:
        return
    try:
        get_source(name)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None


def run_ingestion(spark, settings: Settings, only: str | None = None, progress=no_progress) -> IngestReport:
    """Ingest every new landing file (of the source ``only``) and print the summary."""
    report = ingest(spark, settings, only=only, progress=progress)
    echo(ingest_summary(report))
    return report


def run_pipeline(
    spark, settings: Settings, build: Build, verbose: bool, progress=None
) -> tuple[IngestReport, DbtOutcome]:
    """Ingest everything new, then ``dbt build`` what changed since the last successful build
    (``lakehouse.selection``), telling ``progress`` (a ``lakehouse.progress.RunProgress``) where it is.
    Returns (ingest report, dbt outcome)."""
    report = run_ingestion(spark, settings, progress=progress.ingest if progress else no_progress)
    for warning in never_arrived_warnings(Ledger(spark).sources_with_files(), SOURCES):
        echo(warning)
    plan = plan_build(settings, build, read_ledger(Ledger(spark).committed_batches()))
    echo(plan_summary(plan))
    if plan.mode == "skip":
        outcome = DbtOutcome(command=[], success=True)
    else:
        args = replace(build, select=plan.select, state=plan.state, exclude=plan.exclude).args()
        before_build(settings, plan, args)
        checks = {} if plan.checked_after is None else {CHECK_ENV: str(plan.checked_after)}
        outcome = run_dbt(
            spark, settings, args, quiet=not verbose, on_event=progress and progress.dbt_event, env=checks
        )
        after_build(settings, plan, outcome)
        echo(dbt_summary(outcome))
    outcome.selection = plan.report()
    return report, outcome


def quarantine_verdict(report: IngestReport, strict: bool) -> int:
    """Say loudly what did not make it to bronze; with ``--strict`` that fails the run."""
    rows, files = report.rows_quarantined, report.files_rejected
    if not (rows or files):
        return OK
    text = (
        f"{rows} row(s) quarantined and {files} file(s) rejected by this run (listed above; see "
        "`lakehouse status` and bronze.quarantine)"
    )
    if strict:
        error(f"--strict: {text}")
        return FAILED
    echo(f"WARNING: {text}; everything else was ingested")
    return OK


def dbt_command(settings: Settings, dbt_args: list[str], wait: float) -> int:
    """``lakehouse dbt ...``: any dbt command in-process. On the local target with the lakehouse's Spark
    session under the state lock; on ``glue``/``athena`` no local Spark starts and nothing is locked."""
    from lakehouse.dbt_runner import LOCAL, target_of, usage_problem
    from lakehouse.guards import holding_state, spark_for
    from lakehouse.report import show_dbt_outcome
    from lakehouse.selection import READ_ONLY_DBT, forget_record

    if not dbt_args:
        raise ConfigError("give a dbt command, e.g. `lakehouse dbt build --select gold`")
    problem = usage_problem(settings, dbt_args)  # before the JVM starts: dbt's own message
    if problem:
        raise ConfigError(f"dbt: {problem}")
    if target_of(settings, dbt_args) != LOCAL:
        return show_dbt_outcome(run_dbt(None, settings, dbt_args, quiet=False))
    with holding_state(settings, "dbt", wait):
        words = [arg for arg in dbt_args if not arg.startswith("-")]
        if words and words[0] not in READ_ONLY_DBT:
            forget_record(settings)  # it may write tables: the next `lakehouse run` builds everything
        outcome = run_dbt(spark_for(settings), settings, dbt_args, quiet=False)
    return show_dbt_outcome(outcome)


def env_exports(settings: Settings, target: str | None) -> list[str]:
    """``lakehouse env``: the ``export`` lines that give a bare ``dbt`` the same settings."""
    import shlex

    from lakehouse.dbt_runner import LOCAL, dbt_environment, target_of

    target = target or target_of(settings)
    if target == LOCAL:
        settings.ensure_dirs()
    return [f"export {key}={shlex.quote(value)}" for key, value in dbt_environment(settings, target).items()]
