{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        on_schema_change='append_new_columns',
        full_refresh=false,
        **partitioned(['as_of_date']),
    )
}}

{#-
    gold.account_features, one partition per as-of date: every run replaces the partition of its
    own as-of date (a re-run of the same date is idempotent) and keeps the others, so features
    now can be compared with features as of any earlier run date. `full_refresh=false`: a
    --full-refresh leaves the partitions of earlier as-of dates as they are (they are history: the
    past as-of dates are not recorded anywhere else) and replaces only this run's as-of date.
-#}

with

features as (
    select * from {{ ref('account_features') }}
)

select * from features  -- noqa: AM04
