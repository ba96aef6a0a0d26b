-- Every incremental silver datamart table must equal a from-scratch computation over all of bronze:
-- per key the version with the latest change timestamp, ties by batch, file name, record number.
-- Returns one row per table that differs, with the number of differing rows (none = correct).

{%- set tables = [
    ('accounts', 'stg_datamart__account', 'account_id', 'updated_at',
        'account_name, status, country, created_at'),
    ('account_metadata', 'stg_datamart__account_metadata', 'account_id', 'updated_at',
        'industry, tier, kyc_status'),
    ('account_risk', 'stg_datamart__account_risk', 'account_id', 'updated_at',
        'risk_score, risk_level'),
    ('queues', 'stg_datamart__queue', 'queue_id', 'updated_at',
        'account_id, queue_name, status'),
    ('settlement_transactions', 'stg_datamart__settlement_transaction', 'transaction_id', 'created_at',
        'queue_id, amount, currency, status'),
    ('account_adjustments', 'stg_datamart__adjustment', 'adjustment_id', 'updated_at',
        'account_id, transaction_id, amount, reason'),
] %}

{% for model, staging, key, changed_at, attributes in tables %}
    {%- set columns = key ~ ', ' ~ attributes ~ ', ' ~ changed_at
        ~ ', is_deleted, _source_file, _record_number, _batch_id' %}
    {%- set rebuilt %}
        (
            select {{ columns }} from (
                select
                    *,
                    row_number() over (
                        partition by {{ key }}
                        order by {{ changed_at }} desc, _batch_id desc, _source_file desc, _record_number desc
                    ) as recency_rank
                from {{ ref(staging) }}
            ) as ranked
            where recency_rank = 1
        ) as rebuilt_rows
    {%- endset %}
    {%- set incremental -%}
        (select {{ columns }} from {{ ref(model) }}) as incremental_rows
    {%- endset %}
    select
        '{{ model }}' as silver_table,
        count(*) as differing_rows
    from ({{ symmetric_difference(rebuilt, incremental) }}) as differing_rows_of_model
    having count(*) > 0
    {% if not loop.last %}union all{% endif %}
{% endfor %}
