"""What `lakehouse run` builds (lakehouse.selection), decided without Spark: from the ledger's committed
batches, the record of the last successful build and a project manifest (the end-to-end proof, with
dbt and Spark, is in tests/e2e/test_telecom_pipeline.py)."""

from __future__ import annotations

import json
import shutil

from ingestion.config import PROJECT_DIR, load_settings
from ingestion.ledger import CommittedBatch
from lakehouse.dbt_runner import DbtOutcome, NodeResult
from lakehouse.pipeline import Build
from lakehouse.selection import (
    Record,
    after_build,
    before_build,
    fingerprint,
    load_record,
    plan_build,
    plan_summary,
    read_ledger,
    save_record,
    today_utc,
    vars_of,
)

TELECOM, AIRLINE = "bronze.telecom_subscriptions", "bronze.airline_daily_flights"

# A project of four models: telecom -> stg -> gold_t; airline -> gold_a; gold_t -> features (as_of_date)
MANIFEST = {
    "sources": {
        "source.p.telecom.subscriptions": {
            "resource_type": "source",
            "source_name": "telecom",
            "name": "subscriptions",
            "schema": "bronze",
            "identifier": "telecom_subscriptions",
        },
        "source.p.airline.flights": {
            "resource_type": "source",
            "source_name": "airline",
            "name": "flights",
            "schema": "bronze",
            "identifier": "airline_daily_flights",
        },
    },
    "nodes": {
        "model.p.stg": {"resource_type": "model", "name": "stg", "tags": []},
        "model.p.gold_t": {"resource_type": "model", "name": "gold_t", "tags": []},
        "model.p.gold_a": {"resource_type": "model", "name": "gold_a", "tags": []},
        "model.p.features": {"resource_type": "model", "name": "features", "tags": ["as_of_date"]},
        "test.p.unique_gold_t": {"resource_type": "test", "name": "unique_gold_t", "tags": []},
        "test.p.gold_a_equals_rebuild": {
            "resource_type": "test",
            "name": "gold_a_equals_rebuild",
            "tags": ["audit"],
            "depends_on": {"nodes": ["model.p.gold_a"]},
        },
    },
    "child_map": {
        "source.p.telecom.subscriptions": ["model.p.stg"],
        "model.p.stg": ["model.p.gold_t"],
        "model.p.gold_t": ["model.p.features", "test.p.unique_gold_t"],
        "source.p.airline.flights": ["model.p.gold_a"],
        "model.p.gold_a": ["test.p.gold_a_equals_rebuild"],
    },
}


def batch(batch_id: int, source: str, rows: int = 10, quarantined: int = 0) -> CommittedBatch:
    return CommittedBatch(batch_id, source, 1_000_000 * batch_id, rows, quarantined)


def home_with_record(tmp_path, **changes):
    """A home whose last successful build saw batches 1-2 of both sources, as of today."""
    settings = load_settings(home=tmp_path / "home", landing=tmp_path / "landing", env={})
    state = settings.home / "last-build" / "state-1"
    state.mkdir(parents=True)
    (state / "manifest.json").write_text(json.dumps(MANIFEST))
    values = {
        "built_at": "2026-11-26T10:00:00+00:00",
        "batch": 2,
        "batch_us": 2_000_000,
        "through": {TELECOM: 2, AIRLINE: 2},
        "fingerprint": fingerprint(),
        "state": "state-1",
        "as_of_date": today_utc(),
        "vars": {},
    }
    save_record(settings, Record(**{**values, **changes}))
    return settings


LEDGER = [batch(1, "telecom_subscriptions"), batch(2, "airline_daily_flights")]


def test_a_run_with_nothing_new_skips_dbt_and_says_why(tmp_path):
    settings = home_with_record(tmp_path)
    plan = plan_build(settings, Build(), read_ledger(LEDGER))
    assert plan.mode == "skip" and plan.select is None
    assert plan_summary(plan).startswith("dbt: skipped, nothing changed since the last successful build")


def test_new_batches_select_only_the_models_downstream_of_their_source(tmp_path):
    settings = home_with_record(tmp_path)
    plan = plan_build(settings, Build(), read_ledger([*LEDGER, batch(3, "telecom_subscriptions")]))
    assert plan.mode == "changed" and plan.select == "source:telecom.subscriptions+"
    assert plan.pending == {TELECOM: [3]}
    assert [(r.what, r.models) for r in plan.reasons] == [("downstream of telecom", 3)]
    assert plan.skipped == 1  # gold_a
    assert plan_summary(plan) == (
        "dbt: building 3 of 4 model(s): 3 model(s) downstream of telecom (new batch(es) 3); "
        "skipped 1: nothing changed for them; incremental checks read batches after 2"
    )
    assert plan.checked_after == 2  # the last successful build built every source through batch 2


def test_an_incremental_build_leaves_out_the_audit_tests_unless_asked(tmp_path):
    settings = home_with_record(tmp_path)
    ledger = read_ledger([*LEDGER, batch(3, "airline_daily_flights")])
    plan = plan_build(settings, Build(), ledger)
    assert plan.select == "source:airline.flights+" and plan.exclude == "tag:audit"
    assert plan.audits_left_out == 1 and plan.report()["audits_left_out"] == 1
    assert plan_summary(plan).endswith(
        "; left out 1 audit test(s) (tag:audit: each rebuilds its table's whole history to compare; "
        "`lakehouse run --audit` runs them)"
    )
    assert Build(select=plan.select, exclude=plan.exclude).args()[-2:] == ["--exclude", "tag:audit"]
    audited = plan_build(settings, Build(audit=True), ledger)
    assert audited.select == f"{plan.select} tag:audit" and audited.exclude is None
    assert "left out" not in plan_summary(audited)
    # --audit with nothing new: the audit tests alone (a nightly audit after a quiet day still runs)
    idle = plan_build(settings, Build(audit=True), read_ledger(LEDGER))
    assert (idle.mode, idle.select, idle.exclude) == ("audit", "tag:audit", None)
    assert plan_summary(idle).startswith("dbt: the audit tests only: nothing changed since the last successful")
    assert plan_build(settings, Build(), read_ledger(LEDGER)).mode == "skip"
    # a build that touches no audited model has nothing to leave out
    telecom = plan_build(settings, Build(), read_ledger([*LEDGER, batch(3, "telecom_subscriptions")]))
    assert telecom.exclude is None
    # full builds and builds as given keep them
    (settings.home / "last-build" / "record.json").unlink()
    assert plan_build(settings, Build(), ledger).exclude is None
    assert plan_build(settings, Build(full_refresh=True), ledger).exclude is None


def test_incremental_checks_only_when_only_new_batches_follow_a_complete_build(tmp_path):
    new_batch = read_ledger([*LEDGER, batch(3, "telecom_subscriptions")])
    assert plan_build(home_with_record(tmp_path / "a"), Build(audit=True), new_batch).checked_after is None
    partial = home_with_record(tmp_path / "b", through={TELECOM: 2, AIRLINE: 1})  # a --select build since
    assert plan_build(partial, Build(), new_batch).checked_after is None
    as_of = home_with_record(tmp_path / "c", as_of_date="2021-03-01")  # as-of models rebuilt too
    assert plan_build(as_of, Build(), new_batch).checked_after is None
    for settings in (partial, as_of):
        assert "incremental checks" not in plan_summary(plan_build(settings, Build(), new_batch))


def test_a_project_change_or_a_changed_test_checks_every_row(tmp_path, monkeypatch):
    """A new or edited test (or a macro it uses) has never passed on the older rows: no incremental
    checks until a build with these files succeeded; a changed test alone is built, on every row."""
    import lakehouse.selection as selection

    settings = home_with_record(tmp_path, fingerprint="another project")
    settings.dbt_target_dir.mkdir(parents=True)
    (settings.dbt_target_dir / "manifest.json").write_text(json.dumps(MANIFEST))
    new_batch = read_ledger([*LEDGER, batch(3, "telecom_subscriptions")])
    monkeypatch.setattr(selection, "modified_ids", lambda *args: ([], None))  # no node changed
    plan = plan_build(settings, Build(), new_batch)
    assert plan.select == "source:telecom.subscriptions+" and plan.checked_after is None
    monkeypatch.setattr(selection, "modified_ids", lambda *args: (["test.p.unique_gold_t"], None))
    tests_only = plan_build(settings, Build(), read_ledger(LEDGER))
    assert (tests_only.mode, tests_only.select, tests_only.checked_after) == ("changed", "state:modified+", None)
    assert tests_only.state == str(settings.home / "last-build" / "state-1")  # dbt compares with that build


def test_audit_with_new_batches_adds_every_audit(tmp_path):
    settings = home_with_record(tmp_path)
    plan = plan_build(settings, Build(audit=True), read_ledger([*LEDGER, batch(3, "telecom_subscriptions")]))
    assert plan.select == "source:telecom.subscriptions+ tag:audit" and plan.exclude is None
    assert plan.checked_after is None and plan_summary(plan).endswith("; with every audit test (--audit)")


def test_batches_a_failed_build_left_are_still_pending(tmp_path):
    settings = home_with_record(tmp_path, through={TELECOM: 2, AIRLINE: 1})
    plan = plan_build(settings, Build(), read_ledger(LEDGER))  # no new batch in this run
    assert plan.select == "source:airline.flights+" and plan.pending == {AIRLINE: [2]}


def test_an_as_of_change_selects_the_as_of_models_and_vars_changes_everything(tmp_path):
    settings = home_with_record(tmp_path, as_of_date="2021-03-01")
    plan = plan_build(settings, Build(), read_ledger(LEDGER))
    assert plan.select == "tag:as_of_date+"
    assert plan.reasons[0].why == f"as-of {today_utc()} vs 2021-03-01"
    same = plan_build(settings, Build(dbt_vars="{as_of_date: 2021-03-01}"), read_ledger(LEDGER))
    assert same.mode == "skip"
    other = plan_build(settings, Build(dbt_vars="{as_of_date: 2021-03-01, region: eu}"), read_ledger(LEDGER))
    assert other.mode == "everything" and other.select is None


def test_no_record_or_another_ledger_builds_everything(tmp_path):
    settings = home_with_record(tmp_path)
    rebuilt = [CommittedBatch(2, "telecom_subscriptions", 99, 10, 0)]  # batch 2, committed at another time
    assert plan_build(settings, Build(), read_ledger(rebuilt)).mode == "everything"
    (settings.home / "last-build" / "record.json").unlink()
    assert plan_build(settings, Build(), read_ledger(LEDGER)).mode == "everything"


def test_select_moves_the_record_only_for_sources_it_fully_built(tmp_path):
    settings = home_with_record(tmp_path)
    settings.dbt_target_dir.mkdir(parents=True)
    (settings.dbt_target_dir / "manifest.json").write_text(json.dumps(MANIFEST))
    ledger = read_ledger([*LEDGER, batch(3, "telecom_subscriptions"), batch(3, "airline_daily_flights")])
    build = Build(select="stg+")
    plan = plan_build(settings, build, ledger)
    assert plan.mode == "as given" and plan.select == "stg+"
    before_build(settings, plan, build.args())
    done = [NodeResult(n.split(".")[-1], "model", "success", unique_id=n) for n in ("model.p.stg", "model.p.gold_t")]
    after_build(settings, plan, DbtOutcome(["build"], True, [*done]))
    assert load_record(settings).through == {TELECOM: 2, AIRLINE: 2}  # features (downstream) was not built
    features = NodeResult("features", "model", "success", unique_id="model.p.features")
    after_build(settings, plan, DbtOutcome(["build"], True, [*done, features]))
    assert load_record(settings).through == {TELECOM: 3, AIRLINE: 2}  # airline's batch 3 is still pending
    failed = DbtOutcome(["build"], False, [])
    plan = plan_build(settings, Build(), ledger)
    after_build(settings, plan, failed)
    assert load_record(settings).through == {TELECOM: 3, AIRLINE: 2}


def test_a_full_refresh_that_does_not_finish_leaves_no_record(tmp_path):
    settings = home_with_record(tmp_path)
    build = Build(select="stg+", full_refresh=True)
    plan = plan_build(settings, build, read_ledger(LEDGER))
    before_build(settings, plan, build.args())  # ... and the build is killed
    assert plan_build(settings, Build(), read_ledger(LEDGER)).mode == "everything"
    settings.dbt_target_dir.mkdir(parents=True)
    (settings.dbt_target_dir / "manifest.json").write_text(json.dumps(MANIFEST))
    smaller = Build(select="gold_a")  # a later --select build does not make up for it
    after_build(settings, plan_build(settings, smaller, read_ledger(LEDGER)), DbtOutcome(["build"], True, []))
    assert plan_build(settings, Build(), read_ledger(LEDGER)).mode == "everything"
    after_build(settings, plan, DbtOutcome(["build"], True, []))  # had the full refresh finished
    assert plan_build(settings, Build(), read_ledger(LEDGER)).mode == "skip"


def test_the_fingerprint_follows_file_contents_not_places(tmp_path):
    copy = tmp_path / "project"
    for name in ("models", "macros", "seeds", "tests/dbt"):
        shutil.copytree(PROJECT_DIR / name, copy / name)
    shutil.copy(PROJECT_DIR / "dbt_project.yml", copy)
    assert fingerprint(copy) == fingerprint()
    model = copy / "models" / "gold" / "telecom" / "subscriptions_by_plan.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert fingerprint(copy) != fingerprint()


def test_vars_and_ledger_are_read_as_the_plan_needs():
    assert vars_of("{as_of_date: 2021-03-01, region: eu}") == ("2021-03-01", {"region": "eu"})
    assert vars_of(None) == (None, {})
    view = read_ledger([batch(1, "telecom_subscriptions", quarantined=2), batch(2, "telecom_subscriptions", rows=0)])
    assert view.latest == 2 and view.batches == {TELECOM: [1], "bronze.quarantine": [1]}
