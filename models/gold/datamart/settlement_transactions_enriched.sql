{{ config(unique_key='transaction_id', meta={'tombstones_from': 'settlement_transactions'}) }}

{#-
    One row per current (not deleted) settlement transaction with the context of its queue and of
    the queue's account (left joins: a transaction on an unknown or deleted queue keeps null
    context). Incremental: recomputes transactions that changed, or whose queue or queue's account
    changed (int_datamart__touched_queues), since the table's watermark (its newest _batch_id). The
    post-hook (dbt_project.yml) removes soft-deleted transactions. tests/dbt/gold/datamart proves
    it equals a full rebuild.
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

touched_queues as (
    select * from {{ ref('int_datamart__touched_queues') }}
),

current_transactions as (
    select * from settlement_transactions
    where
        not is_deleted
        {% if is_incremental() %}
            and (
                {{ after_watermark('_batch_id') }}
                or queue_id in (
                    select touched_queues.queue_id from touched_queues
                    where {{ after_watermark('touched_queues.touched_by_batch') }}
                )
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
