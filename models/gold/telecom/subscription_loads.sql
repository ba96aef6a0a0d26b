{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='load_date',
        on_schema_change='append_new_columns',
    )
}}

{#-
    Records loaded per file date and the running total. Incremental: only the dates a batch after
    the table's watermark (its newest _batch_id) delivered to are recounted from bronze; the counts
    of the other dates are this table's own (one row per date), and the running total is redone
    from the earliest recounted date onwards (a late date moves every later total).
-#}

with

delivered as (
    select * from {{ ref('int_telecom__subscription_records_per_file_date') }}
),

{% if is_incremental() %}
    changed_dates as (
        select distinct delivered.load_date
        from delivered
        where {{ after_watermark('delivered._batch_id') }}
    ),
{% endif %}

recounted as (
    select
        delivered.load_date,
        sum(delivered.records_loaded) as records_loaded,
        max(delivered._batch_id) as _batch_id
    from delivered
    {% if is_incremental() %}
        where delivered.load_date in (select changed_dates.load_date from changed_dates)
    {% endif %}
    group by delivered.load_date
),

per_load_date as (
    select * from recounted
    {% if is_incremental() %}
        union all
        select
            current_table.load_date,
            current_table.records_loaded,
            current_table._batch_id
        from {{ this }} as current_table
        where not exists (
            select 1 from changed_dates
            where changed_dates.load_date = current_table.load_date
        )
    {% endif %}
),

with_running_total as (
    select
        load_date,
        records_loaded,
        sum(records_loaded) over (
            order by load_date
            rows between unbounded preceding and current row
        ) as cumulative_records,
        _batch_id
    from per_load_date
)

select * from with_running_total
{% if is_incremental() %}
    where load_date >= (select min(changed_dates.load_date) from changed_dates)
{% endif %}
