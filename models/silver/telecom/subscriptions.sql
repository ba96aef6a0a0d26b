{{
    config(
        unique_key='customer_id',
        partition_by=none,
    )
}}

{#-
    One current row per customer. "Latest file wins": the record from the file with the latest
    business date (_file_date, nulls last) wins; equal dates are broken by arrival (_batch_id),
    then by file name, then by position in the file. A late file (older date, newer batch)
    therefore never overwrites newer data: in the incremental branch the current row competes
    with the new ones. See macros/latest_version_per_key.sql.
-#}

with

latest as (
    {{ latest_version_per_key(
        ref('stg_telecom__subscriptions'), 'customer_id',
        changed_at='_file_date', nulls='last', current_competes=true, exclude=['_ingested_at']
    ) }}
)

select * from latest
