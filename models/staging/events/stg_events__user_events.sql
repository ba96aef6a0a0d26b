with

source as (
    select * from {{ source('events', 'user_events') }}
),

cleaned as (
    select
        trim(user_id) as user_id,
        trim(event_type) as event_type,
        event_time,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from cleaned
