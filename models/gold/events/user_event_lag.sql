{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['user_id', 'event_time', 'event_type'],
        merge_bounded_by=['event_time'],
        on_schema_change='append_new_columns',
    )
}}

{#-
    Minutes since the same user's previous event over the user's ENTIRE history (null for the
    first event), maintained incrementally. Only users with new events are touched: from the last
    event before a user's earliest new event (the anchor) onwards, so a late event gets its own lag
    and the event after it gets a new one. Events of a user with the same timestamp are ordered by
    event_type (the later one has lag 0.0). tests/dbt/gold/events proves it equals a full rebuild.

    Reading only recent history: the anchor of a user is the last event before the first new one,
    whenever it happened. When every user with new events has an event in the `lookback_days`
    before the earliest new day (checked on local Spark while the model compiles, reading only
    those days), every anchor lies in that window and only the days from its start are read
    (silver.user_events is partitioned by event_date); otherwise, and on other engines, all of it.
-#}

{%- set lookback_days = 7 %}
{%- set read_from = none %}
{%- if is_incremental() and compile_time_values() %}
    {%- set first_new_day = run_query(
        'select cast(min(new_events.event_date) as string) from ' ~ ref('user_events')
        ~ ' as new_events where ' ~ after_watermark('new_events._batch_id')
    ).columns[0].values()[0] %}
    {%- if first_new_day %}
        {%- set window_start = (
            modules.datetime.date.fromisoformat((first_new_day | string)[:10]) - modules.datetime.timedelta(days=lookback_days)
        ).isoformat() %}
        {%- set users_without_recent_anchor = run_query(
            'select count(*) from (select new_events.user_id, min(new_events.event_time) as first_new_time from '
            ~ ref('user_events') ~ ' as new_events where ' ~ after_watermark('new_events._batch_id')
            ~ ' group by new_events.user_id) as first_new where not exists (select 1 from ' ~ ref('user_events')
            ~ " as recent where recent.event_date >= cast('" ~ window_start ~ "' as date)"
            ~ ' and recent.user_id = first_new.user_id and recent.event_time < first_new.first_new_time)'
        ).columns[0].values()[0] %}
        {%- if users_without_recent_anchor | int == 0 %}
            {%- set read_from = window_start %}
        {%- endif %}
    {%- endif %}
{%- endif %}

with

events as (
    select * from {{ ref('user_events') }}
    {% if read_from is not none %}
        where event_date >= cast('{{ read_from }}' as date)
    {% endif %}
),

new_events as (
    select events.* from events
    {{ only_new_batches('events._batch_id') }}
),

first_new_event as (
    select
        user_id,
        min(event_time) as first_new_time
    from new_events
    group by user_id
),

anchor as (
    select
        events.user_id,
        max(events.event_time) as anchor_time
    from events
    inner join first_new_event
        on
            events.user_id = first_new_event.user_id
            and events.event_time < first_new_event.first_new_time
    group by events.user_id
),

events_in_scope as (
    select
        events.user_id,
        events.event_time,
        events.event_type,
        events._batch_id,
        first_new_event.first_new_time
    from events
    inner join first_new_event
        on events.user_id = first_new_event.user_id
    left join anchor
        on events.user_id = anchor.user_id
    where events.event_time >= coalesce(anchor.anchor_time, first_new_event.first_new_time)
),

with_previous as (
    select
        *,
        lag(event_time) over (
            partition by user_id
            order by event_time, event_type
        ) as prev_event_time
    from events_in_scope
),

lagged as (
    select
        user_id,
        event_time,
        event_type,
        prev_event_time,
        ({{ epoch_seconds('event_time') }} - {{ epoch_seconds('prev_event_time') }}) / 60.0 as lag_minutes,
        _batch_id
    from with_previous
    where event_time >= first_new_time
)

select * from lagged
