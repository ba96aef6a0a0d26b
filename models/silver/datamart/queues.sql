{{
    config(
        unique_key='queue_id',
    )
}}

{#-
    One current row per queue_id (tombstones included: is_deleted = true), latest updated_at wins,
    ties by arrival; see macros/current_version.sql. The table's own watermark is its newest
    _batch_id: only bronze batches after it are read (never a business timestamp).
-#}

{%- set business_columns = [
    'queue_id', 'account_id', 'queue_name', 'status', 'updated_at'
] %}

with

staged as (
    select staged_source.* from {{ ref('stg_datamart__queue') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

{{ current_version_per_key('staged', 'queue_id', 'updated_at', business_columns) }}

select * from latest
