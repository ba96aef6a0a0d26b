{{ config(unique_key='transaction_id') }}

with

latest as (
    {{ latest_version_per_key(
        ref('stg_datamart__settlement_transactions'), 'transaction_id',
        changed_at='created_at', tombstones='is_deleted', current_competes=true, exclude=['_ingested_at']
    ) }}
)

select * from latest
