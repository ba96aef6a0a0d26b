{{
    config(
        materialized='table',
    )
}}

{#-
    The current airport dimension: the rows of the newest delivered version (latest batch, then
    latest file name). Airports absent from the newest version are no longer current. Duplicate
    ids within one file: the last record wins.
-#}

with

versions as (
    select * from {{ ref('stg_airline__airports') }}
),

newest_version as (
    select
        _batch_id,
        _source_file
    from versions
    group by _batch_id, _source_file
    order by _batch_id desc, _source_file desc
    limit 1
),

current_rows as (
    select versions.*
    from versions
    inner join newest_version
        on
            versions._batch_id = newest_version._batch_id
            and versions._source_file = newest_version._source_file
),

ranked as (
    select
        *,
        row_number() over (partition by airport_id order by _record_number desc) as duplicate_rank
    from current_rows
),

airports as (
    select
        airport_id,
        airport_name,
        city,
        state,
        _source_file,
        _batch_id
    from ranked
    where duplicate_rank = 1
)

select * from airports
