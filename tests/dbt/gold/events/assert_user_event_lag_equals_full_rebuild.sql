-- gold.user_event_lag is maintained incrementally; it must equal a from-scratch lag over every
-- user's entire history. Returns the differing rows (none = correct).
-- An audit (tag audit): it reads the whole history, so a plain `lakehouse run` leaves it out of
-- an incremental build; full builds, `--select`, `--full-refresh` and `lakehouse run --audit` run it.
{{ config(tags=['audit']) }}

with

rebuilt as (
    select
        user_id,
        event_time,
        event_type,
        prev_event_time,
        ({{ epoch_seconds('event_time') }} - {{ epoch_seconds('prev_event_time') }}) / 60.0 as lag_minutes
    from (
        select
            user_id,
            event_time,
            event_type,
            lag(event_time) over (partition by user_id order by event_time, event_type) as prev_event_time
        from {{ ref('user_events') }}
    ) as with_previous
),

incremental as (
    select
        user_id,
        event_time,
        event_type,
        prev_event_time,
        lag_minutes
    from {{ ref('user_event_lag') }}
)

{{ symmetric_difference('rebuilt', 'incremental') }}
