{#-
    Which queues each ingestion batch touched, for gold.settlement_transactions_enriched: one row
    per queue and batch that changed the queue or the queue's account (the context a transaction
    row carries). An incremental run recomputes the transactions on queues touched by a batch after
    its watermark, and the transactions that changed themselves.
-#}

with

queues as (
    select * from {{ ref('queues') }}
),

touched_queues as (
    select
        queues.queue_id,
        queues._batch_id as touched_by_batch
    from queues
    union all
    select
        queues.queue_id,
        account_rows._batch_id as touched_by_batch
    from queues
    inner join {{ ref('accounts') }} as account_rows
        on queues.account_id = account_rows.account_id
)

select * from touched_queues
