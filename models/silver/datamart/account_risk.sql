{{
    config(
        unique_key='account_id',
    )
}}

{#-
    One current row per account_id (tombstones included: is_deleted = true), latest updated_at wins,
    ties by arrival; see macros/current_version.sql. The table's own watermark is its newest
    _batch_id: only bronze batches after it are read (never a business timestamp).
-#}

{%- set business_columns = [
    'account_id', 'risk_score', 'risk_level', 'updated_at'
] %}

with

staged as (
    select staged_source.* from {{ ref('stg_datamart__account_risk') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

{{ current_version_per_key('staged', 'account_id', 'updated_at', business_columns) }}

select * from latest
