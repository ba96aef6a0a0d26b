{{
    config(
        materialized='view',
        file_format=view_file_format(),
    )
}}

{#-
    A view: a few rows from one aggregate over silver.subscriptions (one row per customer), cheaper
    to compute when read than to rebuild on every run (macros/cross_engine.sql, view_file_format).
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
