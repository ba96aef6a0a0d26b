{#-
    Per user and UTC day. The lag of a day's first event is measured from the user's previous
    event, which may be on an earlier day (lag over the entire history).
-#}

with

lags as (
    select * from {{ ref('user_event_lag') }}
),

per_user_day as (
    select
        user_id,
        cast(event_time as date) as activity_date,
        count(*) as events,
        min(event_time) as first_event_time,
        max(event_time) as last_event_time,
        percentile(lag_minutes, 0.5) as median_lag_minutes,
        max(lag_minutes) as max_lag_minutes
    from lags
    group by user_id, cast(event_time as date)
)

select * from per_user_day
