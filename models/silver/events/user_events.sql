{{
    config(
        unique_key=['user_id', 'event_type', 'event_time'],
        **partitioned(['event_date']),
    )
}}

{#-
    Clean, deduplicated events: an exact duplicate (same user, type and time) counts once, even
    when it arrives in another file or run. The first arrival is kept (its lineage stays); the
    incremental branch only inserts events whose key is not in the table yet.
-#}

with

deliveries as (
    select staged_source.* from {{ ref('stg_events__user_events') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, event_type, event_time
            order by _batch_id, _source_file, _record_number
        ) as arrival_rank
    from deliveries
),

first_arrivals as (
    select
        user_id,
        event_type,
        event_time,
        _source_file,
        _record_number,
        _batch_id,
        cast(event_time as date) as event_date
    from ranked
    where arrival_rank = 1
),

new_events as (
    select first_arrivals.*
    from first_arrivals
    {% if is_incremental() %}
        where not exists (
            select 1 from {{ this }} as current_table
            where
                first_arrivals.user_id = current_table.user_id
                and first_arrivals.event_type is not distinct from current_table.event_type
                and first_arrivals.event_time = current_table.event_time
        )
    {% endif %}
)

select * from new_events
