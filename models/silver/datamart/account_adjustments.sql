{{
    config(
        unique_key='adjustment_id',
    )
}}

{#-
    One current row per adjustment_id (tombstones included: is_deleted = true), latest updated_at wins,
    ties by arrival; see macros/current_version.sql. The table's own watermark is its newest
    _batch_id: only bronze batches after it are read (never a business timestamp).
-#}

{%- set business_columns = [
    'adjustment_id', 'account_id', 'transaction_id', 'amount', 'reason', 'updated_at'
] %}

with

staged as (
    select staged_source.* from {{ ref('stg_datamart__adjustment') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

{{ current_version_per_key('staged', 'adjustment_id', 'updated_at', business_columns) }}

select * from latest
