"""User-event lag end to end: the real six events, then random batches with late arrivals, ties and
duplicates; after every batch gold equals a from-scratch computation in plain Python."""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import statistics
from collections import defaultdict

import pytest

from tests.conftest import run_cli
from tests.e2e.helpers import scenario

pytestmark = pytest.mark.e2e

EVENTS_ONLY = ["--select", "path:models/staging/events+"]
LAG_SQL = """
select user_id, date_format(event_time, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'") as event_time, event_type,
       date_format(prev_event_time, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'") as prev_time, lag_minutes
from gold.user_event_lag
"""
DAILY_SQL = """
select user_id, cast(activity_date as string) as activity_date, events,
       date_format(first_event_time, "HH:mm") as first_event, date_format(last_event_time, "HH:mm") as last_event,
       median_lag_minutes, max_lag_minutes
from gold.user_activity_daily
"""

TABLES_CHECKED = ("user_activity_daily", "user_event_lag", "user_events")
DUPLICATE_AN_OLD_EVENT_IN_BATCH_4 = """
insert into silver.user_events by name
select user_id, event_type, event_time, event_date, _source_file, _record_number, cast(4 as bigint) as _batch_id
from silver.user_events where _batch_id < 4 limit 1
"""
# twice each: a pair of old rows (batch 1) at or after a new row of batch 4's user, as a merge or a
# replaced day would rewrite them; neither the new rows nor `_batch_id > 3` show them
OLD_GOLD_PAIRS_AFTER_A_NEW_ROW = {
    "user_event_lag": """
insert into gold.user_event_lag by name
select pair.* from (
    select user_id, max(event_time) + interval 1 second as event_time, 'rewritten' as event_type,
           cast(null as timestamp) as prev_event_time, cast(null as double) as lag_minutes,
           cast(1 as bigint) as _batch_id
    from gold.user_event_lag group by user_id having max(_batch_id) = 4 limit 1
) as pair, (select explode(array(1, 2))) as twice
""",
    "user_activity_daily": """
insert into gold.user_activity_daily by name
select pair.* from (
    select user_id, date_add(max(activity_date), 1) as activity_date, cast(1 as bigint) as events,
           max(last_event_time) as first_event_time, max(last_event_time) as last_event_time,
           cast(null as double) as median_lag_minutes, cast(null as double) as max_lag_minutes,
           cast(1 as bigint) as _batch_id
    from gold.user_activity_daily group by user_id having max(_batch_id) = 4 limit 1
) as pair, (select explode(array(1, 2))) as twice
""",
}


def test_real_six_events_give_the_original_output(tmp_path, shared_datasets):
    landing = tmp_path / "landing"
    real = str(shared_datasets / "events" / "user_events.csv")
    _, result, state = scenario(
        tmp_path / "home",
        landing,
        [{"land": [[real, "events/user_events.csv"]]}, {"cli": ["run", *EVENTS_ONLY]}, {"query": {"lag": LAG_SQL}}],
    )
    assert result["code"] == 0, result["stdout"] + result["stderr"]
    with open(shared_datasets / "events" / "expected_output.csv", newline="") as handle:
        expected = sorted(tuple(r.values()) for r in csv.DictReader(handle))
    assert sorted(tuple(r.values()) for r in state["lag"]) == expected
    # archived after commit, keeping its relative path
    assert not (landing / "events" / "user_events.csv").exists()
    assert (tmp_path / "archive" / "events" / "user_events.csv").is_file()

    # `reset` moves archived files back: the next ingest takes every row of the file again
    reset = run_cli("reset", "--yes", home=tmp_path / "home", landing=landing)
    assert reset.returncode == 0 and "restored 1 archived file(s)" in reset.stdout, reset.stdout + reset.stderr
    with open(real, newline="") as handle:
        delivered = sum(1 for _ in csv.DictReader(handle))
    rows = "select (select count(*) from bronze.events_user_events) + (select count(*) from bronze.quarantine) as n"
    again, counted = scenario(tmp_path / "home", landing, [{"cli": ["ingest"]}, {"query": {"rows": rows}}])
    assert again["code"] == 0, again["stdout"] + again["stderr"]
    assert int(counted["rows"][0]["n"]) == delivered == 6
    assert (tmp_path / "archive" / "events" / "user_events.csv").is_file()  # archived again after the commit


def reference(events: set[tuple[str, str, dt.datetime]]):
    """Lag over each user's entire history, ties ordered by event type; and the daily summary."""
    by_user = defaultdict(list)
    for user, kind, at in events:
        by_user[user].append((at, kind))
    lags, daily = [], defaultdict(list)
    for user, items in by_user.items():
        previous = None
        for at, kind in sorted(items):
            lag = None if previous is None else (at - previous).total_seconds() / 60
            lags.append((user, at, kind, previous, lag))
            daily[(user, at.date())].append((at, lag))
            previous = at
    lag_rows = sorted(
        (u, at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), k, p.strftime("%Y-%m-%dT%H:%M:%S.000Z") if p else "", lag)
        for u, at, k, p, lag in lags
    )
    daily_rows = {}
    for (user, day), items in daily.items():
        known = [lag for _, lag in items if lag is not None]
        daily_rows[(user, day.isoformat())] = (
            len(items),
            min(at for at, _ in items).strftime("%H:%M"),
            max(at for at, _ in items).strftime("%H:%M"),
            statistics.median(known) if known else None,
            max(known) if known else None,
        )
    return lag_rows, daily_rows


def as_float(text: str) -> float | None:
    return None if text == "" else float(text)


def random_batches(rng: random.Random, batches: int):
    users = [f"u{n}" for n in range(rng.randint(3, 6))]
    start = dt.datetime(2023, 3, 1, 8, 0)
    events = set()
    for _ in range(rng.randint(40, 70)):
        at = start + dt.timedelta(minutes=rng.randrange(0, 60 * 40, rng.choice([1, 5])))  # 5-min grid: ties
        events.add((rng.choice(users), rng.choice(["login", "click", "view", "logout"]), at))
    ordered = list(events)
    rng.shuffle(ordered)  # arrival order is unrelated to event time: late arrivals everywhere
    cuts = sorted(rng.sample(range(1, len(ordered)), batches - 1))
    parts = [ordered[a:b] for a, b in zip([0, *cuts], [*cuts, len(ordered)], strict=True)]
    for index in range(1, batches):  # exact duplicates re-delivered in later batches
        parts[index] += rng.sample(parts[index - 1], k=min(2, len(parts[index - 1])))
    return parts


def write_batch(outbox, index: int, events, rng: random.Random) -> list[str]:
    """Write one batch file under ``outbox``; return [file, path relative to the landing root]."""
    folder = outbox / "events" / f"batch={index}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id,event_type,event_time"]
    for user, kind, at in events:
        text = (
            at.strftime("%Y-%m-%dT%H:%M:%SZ")
            if rng.random() < 0.5
            else f"{at.month}/{at.day}/{at.year} {at.hour}:{at:%M}"
        )
        lines.append(f" {user} ,{kind},{text}")  # padded ids: cleaning trims them
    path = folder / f"events_{index}.csv"
    path.write_text("\n".join(lines) + "\n")
    return [str(path), str(path.relative_to(outbox))]


def test_random_batches_with_late_arrivals_equal_full_computation(tmp_path):
    seed = int(os.environ.get("LAKEHOUSE_TEST_SEED", random.SystemRandom().randrange(10**6)))
    rng = random.Random(seed)
    outbox = tmp_path / "outbox"
    batches = random_batches(rng, batches=4)
    steps = []
    for index, batch in enumerate(batches):
        steps += [
            {"land": [write_batch(outbox, index, batch, rng)]},
            {"cli": ["run", *EVENTS_ONLY], "name": f"run {index}"},
            {"query": {"lag": LAG_SQL, "daily": DAILY_SQL}, "name": f"state {index}"},
        ]
    merge = tmp_path / "home/dbt/target/run/lakehouse/models/gold/events/user_event_lag.sql"
    steps.append({"call": "read_text", "args": [str(merge)], "name": "last merge"})
    # the events uniqueness tests as a plain run after batch 3 checks them (the runs above committed
    # batches 1-4, macros/incremental_checks.sql), and after batch 4; then again after batch 3 with
    # duplicates that batch 4's rows alone do not show: in silver a row of batch 4 repeating an older
    # event, in gold pairs of old rows where a run rewrites rows
    unique = [
        "test_name:unique_combination,path:models/silver/events test_name:unique_combination,path:models/gold/events",
        3,
    ]
    steps += [
        {"call": "checked_after", "args": unique, "name": "checked"},
        {"call": "checked_after", "args": [unique[0], 4], "name": "checked after the last batch"},
        {"query": {"silver": DUPLICATE_AN_OLD_EVENT_IN_BATCH_4, **OLD_GOLD_PAIRS_AFTER_A_NEW_ROW}},
        {"call": "checked_after", "args": unique, "name": "checked with duplicates"},
    ]
    results = scenario(tmp_path / "home", tmp_path / "landing", steps)
    # the merges were bounded by the new rows' event times (macros/merge_key_bounds.sql), and still
    # equal the full computation below, late arrivals included
    assert "on DBT_INTERNAL_DEST.event_time between cast(" in results["last merge"], results["last merge"]
    checked, sql = results["checked"]["tests"], results["checked"]["sql"]
    assert sorted(checked.values()) == [["pass", 0]] * 3, checked
    [daily, lag, silver] = [next(n for n in checked if f"_{model}_" in n) for model in TABLES_CHECKED]
    assert "new_rows._batch_id > 3 and new_rows.event_date = checked_rows.event_date" in sql[silver], sql[silver]
    assert "checked_rows.event_time >= cast(" in sql[lag], sql[lag]
    assert "new_rows.event_time <= checked_rows.event_time" in sql[lag], sql[lag]
    assert "checked_rows.activity_date >= cast(" in sql[daily] and "exists" not in sql[daily], sql[daily]
    # after the last batch: nothing new, nothing read (no rows of a batch after 4)
    nothing = results["checked after the last batch"]
    assert all(status == ["pass", 0] for status in nothing["tests"].values()), nothing
    assert "1 = 0" in nothing["sql"][lag] and "1 = 0" in nothing["sql"][daily], nothing["sql"]
    assert results["checked with duplicates"]["tests"] == {name: ["fail", 1] for name in checked}
    seen: set[tuple[str, str, dt.datetime]] = set()
    for index, batch in enumerate(batches):
        result, state = results[f"run {index}"], results[f"state {index}"]
        seen |= set(batch)
        assert result["code"] == 0, f"seed={seed} batch={index}\n{result['stdout']}{result['stderr']}"
        expected_lags, expected_daily = reference(seen)
        got = sorted(
            (r["user_id"], r["event_time"], r["event_type"], r["prev_time"], as_float(r["lag_minutes"]))
            for r in state["lag"]
        )
        assert got == expected_lags, f"seed={seed} batch={index}"
        daily = {
            (r["user_id"], r["activity_date"]): (
                int(r["events"]),
                r["first_event"],
                r["last_event"],
                as_float(r["median_lag_minutes"]),
                as_float(r["max_lag_minutes"]),
            )
            for r in state["daily"]
        }
        assert daily == expected_daily, f"seed={seed} batch={index}"
