{#-
    Which accounts each ingestion batch touched, for gold.account_datamart: one row per account and
    batch whose rows change the account's gold row. An incremental run recomputes the accounts
    touched by a batch after its watermark. Touched: a version of the account, of its metadata or
    of its risk; any version, past or present, of a changed queue (so the account a queue left is
    recomputed too, from the queue's delivered versions); the accounts of the queues, past and
    present, of a changed transaction. Tombstones touch too (a deleted row leaves gold).
-#}

with

queues as (
    select * from {{ ref('queues') }}
),

touched_accounts as (
    {% for changed in ['accounts', 'account_metadata', 'account_risk'] %}
        select
            changed_rows.account_id,
            changed_rows._batch_id as touched_by_batch
        from {{ ref(changed) }} as changed_rows
        union all
    {% endfor %}
    -- every delivered version of a changed queue: the accounts it belongs or belonged to
    select
        queue_versions.account_id,
        queues._batch_id as touched_by_batch
    from {{ ref('stg_datamart__queues') }} as queue_versions
    inner join queues
        on queue_versions.queue_id = queues.queue_id
    union all
    -- every delivered version of a changed transaction: the accounts of its queues
    select
        queues.account_id,
        transaction_rows._batch_id as touched_by_batch
    from {{ ref('stg_datamart__settlement_transactions') }} as transaction_versions
    inner join {{ ref('settlement_transactions') }} as transaction_rows
        on transaction_versions.transaction_id = transaction_rows.transaction_id
    inner join queues
        on transaction_versions.queue_id = queues.queue_id
)

select * from touched_accounts
