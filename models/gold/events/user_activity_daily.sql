{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        on_schema_change='append_new_columns',
        **partitioned(['activity_date']),
    )
}}

{#-
    Per user and UTC day. The lag of a day's first event is measured from the user's previous
    event, which may be on an earlier day (lag over the entire history).

    The median is exact on every engine (Spark's percentile(x, 0.5) has no Trino twin:
    approx_percentile is approximate and does not interpolate): the middle lag of the day's
    n known lags, or the mean of the two middle ones when n is even, i.e. the positions r with
    n <= 2r <= n + 2. Null lags (a user's first event) are left out, as percentile does.

    Incremental by day: a new event changes its own lag and its successor's (user_event_lag), both
    at or after the earliest new event, so an incremental run replaces the days from the earliest
    day with an event of a batch after the table's watermark (its newest _batch_id) onwards; the
    days before are not read.
-#}

-- depends_on: {{ ref('user_events') }}

{%- if is_incremental() %}
    {%- set first_changed_day = compile_time_scalar(
        'select cast(min(new_events.event_date) as timestamp) from ' ~ ref('user_events')
        ~ ' as new_events where ' ~ after_watermark('new_events._batch_id'), 'timestamp'
    ) %}
{%- endif %}

with

lags as (
    select
        *,
        cast(event_time as date) as activity_date
    from {{ ref('user_event_lag') }}
    {% if is_incremental() %}
        where event_time >= {{ first_changed_day }}
    {% endif %}
),

known_lags_ranked as (
    select
        user_id,
        activity_date,
        lag_minutes,
        row_number() over (partition by user_id, activity_date order by lag_minutes) as lag_position,
        count(*) over (partition by user_id, activity_date) as known_lags
    from lags
    where lag_minutes is not null
),

median_per_user_day as (
    select
        user_id,
        activity_date,
        avg(lag_minutes) as median_lag_minutes
    from known_lags_ranked
    where 2 * lag_position between known_lags and known_lags + 2
    group by user_id, activity_date
),

per_user_day as (
    select
        user_id,
        activity_date,
        count(*) as events,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        max(lag_minutes) as max_lag_minutes,
        max(_batch_id) as _batch_id
    from lags
    group by user_id, activity_date
),

activity as (
    select
        per_user_day.user_id,
        per_user_day.activity_date,
        per_user_day.events,
        per_user_day.first_event_time,
        per_user_day.last_event_time,
        median_per_user_day.median_lag_minutes,
        per_user_day.max_lag_minutes,
        per_user_day._batch_id
    from per_user_day
    left join median_per_user_day
        on
            per_user_day.user_id = median_per_user_day.user_id
            and per_user_day.activity_date = median_per_user_day.activity_date
)

select * from activity
