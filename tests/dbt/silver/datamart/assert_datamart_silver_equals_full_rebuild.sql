-- Every incremental silver datamart table must equal a from-scratch computation over all of bronze:
-- per key the version with the latest change timestamp, ties by batch, file name, record number
-- (latest_version_per_key outside an incremental run). Returns one row per table that differs,
-- with the number of differing rows (none = correct).
-- An audit (tag audit): it reads the whole history, so a plain `lakehouse run` leaves it out of
-- an incremental build; full builds, `--select`, `--full-refresh` and `lakehouse run --audit` run it.
{{ config(tags=['audit']) }}

{%- set tables = [
    ('accounts', 'stg_datamart__accounts', 'account_id', 'updated_at'),
    ('account_metadata', 'stg_datamart__account_metadata', 'account_id', 'updated_at'),
    ('account_risk', 'stg_datamart__account_risk', 'account_id', 'updated_at'),
    ('queues', 'stg_datamart__queues', 'queue_id', 'updated_at'),
    ('settlement_transactions', 'stg_datamart__settlement_transactions', 'transaction_id', 'created_at'),
    ('silver_adjustments', 'stg_datamart__adjustments', 'adjustment_id', 'updated_at'),
] %}

{% for model, staging, key, changed_at in tables %}
    {%- set rebuilt -%}
        (
            {{ latest_version_per_key(
                ref(staging), key, changed_at=changed_at, tombstones='is_deleted', exclude=['_ingested_at']
            ) }}
        ) as rebuilt_rows
    {%- endset %}
    {%- set incremental -%}
        (
            select {{ relation_columns(ref(staging), exclude=['_ingested_at']) | join(', ') }}
            from {{ ref(model) }}
        ) as incremental_rows
    {%- endset %}
    select
        '{{ model }}' as silver_table,
        count(*) as differing_rows
    from ({{ symmetric_difference(rebuilt, incremental) }}) as differing_rows_of_model
    having count(*) > 0
    {% if not loop.last %}union all{% endif %}
{% endfor %}
