{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='adjustment_id',
        on_schema_change='append_new_columns',
        post_hook=[
            "delete from {{ this }} where adjustment_id in (
                select deleted_adjustments.adjustment_id
                from {{ ref('account_adjustments') }} as deleted_adjustments
                where deleted_adjustments.is_deleted
            )",
        ],
    )
}}

{#-
    One row per current (not deleted) adjustment, processed standalone (no join): the account and
    transaction it refers to are ids, checked by `relationships` tests (warn) in silver.
    Incremental: adjustments with a new version since the table's watermark; the post-hook removes
    soft-deleted ones. tests/dbt/gold/datamart proves it equals a full rebuild.
-#}

with

account_adjustments as (
    select * from {{ ref('account_adjustments') }}
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
    from account_adjustments
    where
        not is_deleted
        {% if is_incremental() %}
            and _batch_id > {{ merged_batch_watermark() }}
        {% endif %}
)

select * from current_adjustments
