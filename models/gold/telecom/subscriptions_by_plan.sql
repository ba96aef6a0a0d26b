{{
    config(
        materialized='view',
        file_format=('parquet' if target.type == 'glue' else 'iceberg'),
    )
}}

{#-
    A view: a few rows from one aggregate over silver.subscriptions (one row per customer), cheaper
    to compute when read than to rebuild on every run. (dbt-glue builds a view with file_format
    iceberg as a table copy: on Glue it is a Spark view in the Glue Data Catalog, as staging.)
-#}

with

subscriptions as (
    select * from {{ ref('subscriptions') }}
),

by_plan as (
    select
        plan_type,
        count(*) as subscribers,
        cast(round(avg(monthly_charge), 2) as decimal(10, 2)) as avg_monthly_charge
    from subscriptions
    group by plan_type
)

select * from by_plan
