{#-
    Records ingested into bronze per file date and ingestion batch, every delivered record counted
    (a re-delivered file with the same content is skipped by ingestion, so it never counts twice).
    Per batch too, so gold.subscription_loads recounts only the dates a new batch delivered to.
-#}

with

delivered_records as (
    select * from {{ ref('stg_telecom__subscriptions') }}
),

per_file_date as (
    select
        _file_date as load_date,
        _batch_id,
        count(*) as records_loaded
    from delivered_records
    group by _file_date, _batch_id
)

select * from per_file_date
