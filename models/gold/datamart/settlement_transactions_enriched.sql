{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='transaction_id',
        on_schema_change='append_new_columns',
        post_hook=[
            "delete from {{ this }} where transaction_id in (
                select deleted_transactions.transaction_id
                from {{ ref('settlement_transactions') }} as deleted_transactions
                where deleted_transactions.is_deleted
            )",
        ],
    )
}}

{#-
    One row per current (not deleted) settlement transaction with the context of its queue and of
    the queue's account (left joins: a transaction on an unknown or deleted queue keeps null
    context). Incremental: recomputes transactions that changed, that sit on a changed queue, or on
    a queue of a changed account since the table's watermark (its newest _batch_id). The post-hook
    removes soft-deleted transactions. tests/dbt/gold/datamart proves it equals a full rebuild.
-#}

with

settlement_transactions as (
    select * from {{ ref('settlement_transactions') }}
),

queues as (
    select * from {{ ref('queues') }}
),

accounts as (
    select * from {{ ref('accounts') }}
),

{% if is_incremental() %}
    watermark as (
        select {{ merged_batch_watermark() }} as batch_id
    ),

    touched_queues as (
        select queues.queue_id from queues
        where queues._batch_id > (select watermark.batch_id from watermark)
        union
        select queues.queue_id from queues
        inner join accounts
            on queues.account_id = accounts.account_id
        where accounts._batch_id > (select watermark.batch_id from watermark)
    ),
{% endif %}

current_transactions as (
    select * from settlement_transactions
    where
        not is_deleted
        {% if is_incremental() %}
            and (
                _batch_id > (select watermark.batch_id from watermark)
                or queue_id in (select touched_queues.queue_id from touched_queues)
            )
        {% endif %}
),

open_queues as (
    select * from queues
    where not is_deleted
),

current_accounts as (
    select * from accounts
    where not is_deleted
),

enriched as (
    select
        current_transactions.transaction_id,
        current_transactions.created_at,
        current_transactions.amount,
        current_transactions.currency,
        current_transactions.status as transaction_status,
        current_transactions.queue_id,
        open_queues.queue_name,
        open_queues.status as queue_status,
        current_accounts.account_id,
        current_accounts.account_name,
        current_accounts.status as account_status,
        current_accounts.country as account_country,
        greatest(
            current_transactions._batch_id,
            coalesce(open_queues._batch_id, 0),
            coalesce(current_accounts._batch_id, 0)
        ) as _batch_id
    from current_transactions
    left join open_queues
        on current_transactions.queue_id = open_queues.queue_id
    left join current_accounts
        on open_queues.account_id = current_accounts.account_id
)

select * from enriched
