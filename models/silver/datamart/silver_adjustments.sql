{{ config(unique_key='adjustment_id', alias='adjustments') }}

{#- silver.adjustments: the model is named silver_adjustments because gold.adjustments (the
    current, not deleted ones) holds the name adjustments among the models. -#}

with

latest as (
    {{ latest_version_per_key(
        ref('stg_datamart__adjustments'), 'adjustment_id',
        changed_at='updated_at', tombstones='is_deleted', current_competes=true, exclude=['_ingested_at']
    ) }}
)

select * from latest
