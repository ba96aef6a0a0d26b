{{ config(unique_key='account_id', meta={'tombstones_from': 'accounts'}) }}

{#-
    One row per current (not deleted) account: its attributes, metadata and risk (left joins: an
    account without metadata or risk is kept), its open queues and its settlement figures.
    Incremental: only accounts touched since the table's watermark (its newest _batch_id; batch ids
    are global, so one watermark covers all five inputs) are recomputed; which batch touched which
    account is int_datamart__touched_accounts. The post-hook (dbt_project.yml) removes accounts
    that are now soft-deleted. tests/dbt/gold/datamart proves it equals a full rebuild. Build it
    together with its parents (as `dbt build` does): its watermark assumes every silver input is
    up to date.
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

touched_accounts as (
    select * from {{ ref('int_datamart__touched_accounts') }}
),

current_accounts as (
    select * from accounts
    where
        not is_deleted
        {% if is_incremental() %}
            and account_id in (
                select touched_accounts.account_id from touched_accounts
                where {{ after_watermark('touched_accounts.touched_by_batch') }}
            )
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
