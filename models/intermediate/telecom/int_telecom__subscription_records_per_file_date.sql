{#-
    Records ingested into bronze per file date, every delivered record counted (a re-delivered
    file with the same content is skipped by ingestion, so it never counts twice).
-#}

with

delivered_records as (
    select * from {{ ref('stg_telecom__subscriptions') }}
),

per_file_date as (
    select
        _file_date as load_date,
        count(*) as records_loaded
    from delivered_records
    group by _file_date
)

select * from per_file_date
