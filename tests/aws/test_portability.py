"""The portability check itself: it must catch each Spark-only construct, and pass portable SQL."""

from __future__ import annotations

import pytest

from tests.aws.portability import SPARK_ONLY, problems

PORTABLE = """
with events as (select user_id, event_type, event_time from silver.user_events)
select
    events.user_id,
    (to_unixtime(events.event_time) - to_unixtime(events.event_time)) / 60.0 as lag_minutes,
    cast(sum(case when events.user_id is null then 1 else 0 end) as double) / count(*) as share,
    round(cast(count(*) as decimal(16, 6)) / 365, 2) as years
from events
where not exists (
    select 1 from silver.user_events as current_table
    where events.event_type is not distinct from current_table.event_type
)
group by events.user_id, events.event_time
"""


def test_portable_sql_passes() -> None:
    assert problems(PORTABLE) == []


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        ("select a.x from a left anti join b on a.x = b.x", "left anti/semi join"),
        ("select a.x from a join b on a.x <=> b.x", "<=>"),
        ("select percentile(lag_minutes, 0.5) as m from t", "percentile("),
        ("select cast(event_time as double) as s from t", "timestamp cast to double"),
        ("select sum(case when d >= 15 then 1 else 0 end) / count(d) as share from t", "integer division"),
        ("select cast(days as decimal(10, 0)) / 365 as years from t", "integer division"),
        (
            "select coalesce(date(x), nvl2(date(x), assert_true(date(x) is not null), null)) as d from t",
            "assert_true(",
        ),
        ("select datediff(b, a) as d from t", "datediff("),
        ("select cast(x as string) as s from t", "cast as string"),
        ("select `x` from t", "backtick quoting"),
        ("select x from t where", "not Trino SQL"),
    ],
)
def test_planted_spark_only_sql_fails(planted: str, expected: str) -> None:
    found = problems(planted)
    assert any(expected in problem for problem in found), found


def test_comments_and_strings_are_not_code() -> None:
    assert problems("select 'left anti join <=> percentile(' as note -- cast(event_time as double)\n") == []


def test_every_construct_names_its_replacement() -> None:
    assert all(construct.instead for construct in SPARK_ONLY)
