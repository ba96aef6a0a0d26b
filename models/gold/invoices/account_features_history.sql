{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['as_of_date'],
        on_schema_change='append_new_columns',
    )
}}

{#-
    gold.account_features, one partition per as-of date: every run replaces the partition of its
    own as-of date (a re-run of the same date is idempotent) and keeps the others, so features
    now can be compared with features as of any earlier run date.
-#}

with

features as (
    select * from {{ ref('account_features') }}
)

select * from features  -- noqa: AM04
