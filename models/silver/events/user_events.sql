{{
    config(
        incremental_strategy='append',
        **partitioned(['event_date']),
    )
}}

{#-
    Clean, deduplicated events: an exact duplicate (same user, type and time) counts once, even
    when it arrives in another file or run. The first arrival is kept (its lineage stays); the
    incremental branch only inserts events whose key is not in the table yet, so it appends (a merge
    would join the new rows with the whole table to find no match). The key includes the event's
    date, the table's partition: the left join below reads only the partitions of the new events'
    dates (Spark's dynamic partition pruning), not all history. A re-run of the same batches (after
    a crash) finds its rows already there and appends nothing.
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
        left join {{ this }} as current_table
            on
                first_arrivals.event_date = current_table.event_date
                and first_arrivals.user_id = current_table.user_id
                and first_arrivals.event_type is not distinct from current_table.event_type
                and first_arrivals.event_time = current_table.event_time
        where current_table.user_id is null
    {% endif %}
)

select * from new_events
