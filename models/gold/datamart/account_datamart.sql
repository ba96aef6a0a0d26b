{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='account_id',
        on_schema_change='append_new_columns',
        post_hook=[
            "delete from {{ this }} where account_id in (
                select deleted_accounts.account_id from {{ ref('accounts') }} as deleted_accounts
                where deleted_accounts.is_deleted
            )",
        ],
    )
}}

{#-
    One row per current (not deleted) account: its attributes, metadata and risk (left joins: an
    account without metadata or risk is kept), its open queues and its settlement figures.
    Incremental: only accounts touched since the table's watermark (its newest _batch_id; batch ids
    are global, so one watermark covers all five inputs) are recomputed. Touched = a new version of
    the account, its metadata or its risk; any version of a changed queue (so the account a queue
    left is recomputed too); the queues, past and present, of a changed transaction. The post-hook
    removes accounts that are now soft-deleted. tests/dbt/gold/datamart proves it equals a full
    rebuild. Build it together with its parents (as `dbt build` does): its watermark assumes every
    silver input is up to date.
-#}

with

accounts as (
    select * from {{ ref('accounts') }}
),

account_metadata as (
    select * from {{ ref('account_metadata') }}
    where not is_deleted
),

account_risk as (
    select * from {{ ref('account_risk') }}
    where not is_deleted
),

queues as (
    select * from {{ ref('queues') }}
),

settlement_transactions as (
    select * from {{ ref('settlement_transactions') }}
    where not is_deleted
),

-- every delivered version: a changed queue or transaction also touches the account it belonged to
queue_versions as (
    select * from {{ ref('stg_datamart__queue') }}
),

transaction_versions as (
    select * from {{ ref('stg_datamart__settlement_transaction') }}
),

{% if is_incremental() %}
    watermark as (
        select {{ merged_batch_watermark() }} as batch_id
    ),

    changed_queues as (
        select queues.queue_id from queues
        where queues._batch_id > (select watermark.batch_id from watermark)
    ),

    changed_transactions as (
        select changed.transaction_id from {{ ref('settlement_transactions') }} as changed
        where changed._batch_id > (select watermark.batch_id from watermark)
    ),

    touched_accounts as (
        select accounts.account_id from accounts
        where accounts._batch_id > (select watermark.batch_id from watermark)
        union
        select metadata_changes.account_id from {{ ref('account_metadata') }} as metadata_changes
        where metadata_changes._batch_id > (select watermark.batch_id from watermark)
        union
        select risk_changes.account_id from {{ ref('account_risk') }} as risk_changes
        where risk_changes._batch_id > (select watermark.batch_id from watermark)
        union
        select queue_versions.account_id from queue_versions
        where queue_versions.queue_id in (select changed_queues.queue_id from changed_queues)
        union
        select queues.account_id from transaction_versions
        inner join queues
            on transaction_versions.queue_id = queues.queue_id
        where
            transaction_versions.transaction_id in (
                select changed_transactions.transaction_id from changed_transactions
            )
    ),
{% endif %}

current_accounts as (
    select * from accounts
    where
        not is_deleted
        {% if is_incremental() %}
            and account_id in (select touched_accounts.account_id from touched_accounts)
        {% endif %}
),

open_queues as (
    select queues.* from queues
    where
        not queues.is_deleted
        and queues.account_id in (select current_accounts.account_id from current_accounts)
),

queues_per_account as (
    select
        account_id,
        count(*) as queue_count,
        max(_batch_id) as _batch_id
    from open_queues
    group by account_id
),

settlements_per_account as (
    select
        open_queues.account_id,
        count(*) as transaction_count,
        count(distinct settlement_transactions.currency) as currency_count,
        min(settlement_transactions.currency) as any_currency,
        sum(settlement_transactions.amount) as total_amount,
        max(settlement_transactions.created_at) as last_transaction_at,
        max(settlement_transactions._batch_id) as _batch_id
    from settlement_transactions
    inner join open_queues
        on settlement_transactions.queue_id = open_queues.queue_id
    group by open_queues.account_id
),

joined as (
    select
        current_accounts.account_id,
        current_accounts.account_name,
        current_accounts.status as account_status,
        current_accounts.country,
        current_accounts.created_at as account_created_at,
        current_accounts.updated_at as account_updated_at,
        account_metadata.industry,
        account_metadata.tier,
        account_metadata.kyc_status,
        account_risk.risk_score,
        account_risk.risk_level,
        coalesce(queues_per_account.queue_count, 0) as queue_count,
        coalesce(settlements_per_account.transaction_count, 0) as transaction_count,
        case
            when settlements_per_account.currency_count = 1 then settlements_per_account.any_currency
            when settlements_per_account.currency_count > 1 then 'MULTIPLE'
        end as settlement_currency,
        case
            when settlements_per_account.currency_count = 1
                then cast(settlements_per_account.total_amount as decimal(38, 2))
        end as total_amount,
        settlements_per_account.last_transaction_at,
        greatest(
            current_accounts._batch_id,
            coalesce(account_metadata._batch_id, 0),
            coalesce(account_risk._batch_id, 0),
            coalesce(queues_per_account._batch_id, 0),
            coalesce(settlements_per_account._batch_id, 0)
        ) as _batch_id
    from current_accounts
    left join account_metadata
        on current_accounts.account_id = account_metadata.account_id
    left join account_risk
        on current_accounts.account_id = account_risk.account_id
    left join queues_per_account
        on current_accounts.account_id = queues_per_account.account_id
    left join settlements_per_account
        on current_accounts.account_id = settlements_per_account.account_id
)

select * from joined
