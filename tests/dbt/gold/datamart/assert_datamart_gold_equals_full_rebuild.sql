-- The incremental gold datamart tables must equal a from-scratch computation over the current
-- silver rows (tombstones excluded). Returns one row per table that differs, with the number of
-- differing rows (none = correct).
-- An audit (tag audit): it reads the whole history, so a plain `lakehouse run` leaves it out of
-- an incremental build; full builds, `--select`, `--full-refresh` and `lakehouse run --audit` run it.
{{ config(tags=['audit']) }}

{%- set account_datamart_rebuilt %}
    (
        select
            account_rows.account_id,
            account_rows.account_name,
            account_rows.status as account_status,
            account_rows.country,
            account_rows.created_at as account_created_at,
            account_rows.updated_at as account_updated_at,
            metadata_rows.industry,
            metadata_rows.tier,
            metadata_rows.kyc_status,
            risk_rows.risk_score,
            risk_rows.risk_level,
            coalesce(open_queues.queue_count, 0) as queue_count,
            coalesce(settled.transaction_count, 0) as transaction_count,
            case
                when settled.currencies = 1 then settled.any_currency
                when settled.currencies > 1 then 'MULTIPLE'
            end as settlement_currency,
            case when settled.currencies = 1 then cast(settled.total as decimal(38, 2)) end as total_amount,
            settled.last_at as last_transaction_at
        from {{ ref('accounts') }} as account_rows
        left join {{ ref('account_metadata') }} as metadata_rows
            on account_rows.account_id = metadata_rows.account_id and not metadata_rows.is_deleted
        left join {{ ref('account_risk') }} as risk_rows
            on account_rows.account_id = risk_rows.account_id and not risk_rows.is_deleted
        left join (
            select
                queue_rows.account_id,
                count(*) as queue_count
            from {{ ref('queues') }} as queue_rows
            where not queue_rows.is_deleted
            group by queue_rows.account_id
        ) as open_queues
            on account_rows.account_id = open_queues.account_id
        left join (
            select
                queue_rows.account_id,
                count(*) as transaction_count,
                count(distinct transaction_rows.currency) as currencies,
                min(transaction_rows.currency) as any_currency,
                sum(transaction_rows.amount) as total,
                max(transaction_rows.created_at) as last_at
            from {{ ref('settlement_transactions') }} as transaction_rows
            inner join {{ ref('queues') }} as queue_rows
                on transaction_rows.queue_id = queue_rows.queue_id and not queue_rows.is_deleted
            where not transaction_rows.is_deleted
            group by queue_rows.account_id
        ) as settled
            on account_rows.account_id = settled.account_id
        where not account_rows.is_deleted
    ) as rebuilt_rows
{%- endset %}

{%- set enriched_rebuilt %}
    (
        select
            transaction_rows.transaction_id,
            transaction_rows.created_at,
            transaction_rows.amount,
            transaction_rows.currency,
            transaction_rows.status as transaction_status,
            transaction_rows.queue_id,
            queue_rows.queue_name,
            queue_rows.status as queue_status,
            account_rows.account_id,
            account_rows.account_name,
            account_rows.status as account_status,
            account_rows.country as account_country
        from {{ ref('settlement_transactions') }} as transaction_rows
        left join {{ ref('queues') }} as queue_rows
            on transaction_rows.queue_id = queue_rows.queue_id and not queue_rows.is_deleted
        left join {{ ref('accounts') }} as account_rows
            on queue_rows.account_id = account_rows.account_id and not account_rows.is_deleted
        where not transaction_rows.is_deleted
    ) as rebuilt_rows
{%- endset %}

{%- set adjustments_rebuilt %}
    (
        select adjustment_id, account_id, transaction_id, amount, reason, updated_at, _batch_id
        from {{ ref('silver_adjustments') }}
        where not is_deleted
    ) as rebuilt_rows
{%- endset %}

{%- set checks = [
    ('account_datamart', account_datamart_rebuilt,
        'account_id, account_name, account_status, country, account_created_at, account_updated_at, '
        ~ 'industry, tier, kyc_status, risk_score, risk_level, queue_count, transaction_count, '
        ~ 'settlement_currency, total_amount, last_transaction_at'),
    ('settlement_transactions_enriched', enriched_rebuilt,
        'transaction_id, created_at, amount, currency, transaction_status, queue_id, queue_name, '
        ~ 'queue_status, account_id, account_name, account_status, account_country'),
    ('adjustments', adjustments_rebuilt,
        'adjustment_id, account_id, transaction_id, amount, reason, updated_at, _batch_id'),
] %}

{% for model, rebuilt, columns in checks %}
    {%- set incremental -%}
        (select {{ columns }} from {{ ref(model) }}) as incremental_rows
    {%- endset %}
    select
        '{{ model }}' as gold_table,
        count(*) as differing_rows
    from ({{ symmetric_difference(rebuilt, incremental) }}) as differing_rows_of_model
    having count(*) > 0
    {% if not loop.last %}union all{% endif %}
{% endfor %}
