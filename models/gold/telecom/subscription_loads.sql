with

loaded_records as (
    select * from {{ ref('stg_telecom__subscriptions') }}
),

per_load_date as (
    select
        _file_date as load_date,
        count(*) as records_loaded
    from loaded_records
    group by _file_date
),

with_running_total as (
    select
        load_date,
        records_loaded,
        sum(records_loaded) over (
            order by load_date
            rows between unbounded preceding and current row
        ) as cumulative_records
    from per_load_date
)

select * from with_running_total
