{{ config(unique_key='adjustment_id', meta={'tombstones_from': 'silver_adjustments'}) }}

{#-
    One row per current (not deleted) adjustment, processed standalone (no join): the account and
    transaction it refers to are ids, checked by `relationships` tests (warn) in silver.
    Incremental: adjustments with a new version since the table's watermark; the post-hook
    (dbt_project.yml) removes soft-deleted ones. tests/dbt/gold/datamart proves it equals a full
    rebuild.
-#}

with

adjustments as (
    select * from {{ ref('silver_adjustments') }}
),

current_adjustments as (
    select
        adjustment_id,
        account_id,
        transaction_id,
        amount,
        reason,
        updated_at,
        _batch_id
    from adjustments
    where
        not is_deleted
        {% if is_incremental() %}
            and {{ after_watermark('_batch_id') }}
        {% endif %}
)

select * from current_adjustments
