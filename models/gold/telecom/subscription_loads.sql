with

per_load_date as (
    select * from {{ ref('int_telecom__subscription_records_per_file_date') }}
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
