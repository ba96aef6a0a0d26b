{{ config(unique_key='account_id') }}

with

latest as (
    {{ latest_version_per_key(
        ref('stg_datamart__account_risk'), 'account_id',
        changed_at='updated_at', tombstones='is_deleted', current_competes=true, exclude=['_ingested_at']
    ) }}
)

select * from latest
