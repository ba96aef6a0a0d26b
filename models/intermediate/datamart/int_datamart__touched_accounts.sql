{#-
    Which accounts each ingestion batch touched, for gold.account_datamart: one row per account and
    batch whose rows change the account's gold row. An incremental run recomputes the accounts
    touched by a batch after its watermark. Touched: a version of the account, of its metadata or
    of its risk; any version, past or present, of a changed queue (so the account a queue left is
    recomputed too, from the queue's delivered versions); the accounts of the queues, past and
    present, of a changed transaction. Tombstones touch too (a deleted row leaves gold).
-#}

with

accounts as (
    select * from {{ ref('accounts') }}
),

account_metadata as (
    select * from {{ ref('account_metadata') }}
),

account_risk as (
    select * from {{ ref('account_risk') }}
),

queues as (
    select * from {{ ref('queues') }}
),

settlement_transactions as (
    select * from {{ ref('settlement_transactions') }}
),

-- every delivered version: a changed queue or transaction also touches the account it belonged to
queue_versions as (
    select * from {{ ref('stg_datamart__queues') }}
),

transaction_versions as (
    select * from {{ ref('stg_datamart__settlement_transactions') }}
),

touched_accounts as (
    select
        accounts.account_id,
        accounts._batch_id as touched_by_batch
    from accounts
    union all
    select
        account_metadata.account_id,
        account_metadata._batch_id as touched_by_batch
    from account_metadata
    union all
    select
        account_risk.account_id,
        account_risk._batch_id as touched_by_batch
    from account_risk
    union all
    select
        queue_versions.account_id,
        queues._batch_id as touched_by_batch
    from queue_versions
    inner join queues
        on queue_versions.queue_id = queues.queue_id
    union all
    select
        queues.account_id,
        settlement_transactions._batch_id as touched_by_batch
    from transaction_versions
    inner join settlement_transactions
        on transaction_versions.transaction_id = settlement_transactions.transaction_id
    inner join queues
        on transaction_versions.queue_id = queues.queue_id
)

select * from touched_accounts
