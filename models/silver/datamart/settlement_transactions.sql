{{
    config(
        unique_key='transaction_id',
    )
}}

{#-
    One current row per transaction_id (tombstones included: is_deleted = true), latest created_at wins,
    ties by arrival; see macros/current_version.sql. The table's own watermark is its newest
    _batch_id: only bronze batches after it are read (never a business timestamp).
-#}

{%- set business_columns = [
    'transaction_id', 'queue_id', 'amount', 'currency', 'status', 'created_at'
] %}

with

staged as (
    select staged_source.* from {{ ref('stg_datamart__settlement_transaction') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

{{ current_version_per_key('staged', 'transaction_id', 'created_at', business_columns) }}

select * from latest
