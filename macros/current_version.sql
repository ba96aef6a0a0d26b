{#- "Latest version wins" for change extracts: the CTEs that turn a CTE of new staged rows into one
    current row per key. Used by the silver datamart models (ref() stays in the model). -#}

{% macro current_version_per_key(staged, key, changed_at, columns) -%}
    {#- `staged`: CTE with the new rows (already limited to new batches by only_new_batches);
        `key`: the business key; `changed_at`: the source's change timestamp; `columns`: the
        business columns. Defines `current_rows` (incremental only), `candidates`, `ranked` and
        `latest`; select from `latest`.

        Order: the latest `changed_at` wins; equal timestamps are broken by arrival, i.e. the later
        ingestion batch, then the later file name (within one batch), then the later record in the
        file. In an incremental run the current row of every touched key competes with the new
        rows, so a late extract with an older timestamp never overwrites, and a tombstone
        (is_deleted = true) stays until a NEWER version un-deletes the key. -#}
    {%- set all_columns = columns + ['is_deleted', '_source_file', '_record_number', '_batch_id'] -%}
    {%- if is_incremental() %}
current_rows as (
    select current_table.* from {{ this }} as current_table
    where current_table.{{ key }} in (select staged_keys.{{ key }} from {{ staged }} as staged_keys)
),
    {%- endif %}

candidates as (
    select
        {{ all_columns | join(',\n        ') }}
    from {{ staged }}
    {%- if is_incremental() %}
    union all
    select
        {{ all_columns | join(',\n        ') }}
    from current_rows
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by {{ key }}
            order by
                {{ changed_at }} desc,
                _batch_id desc,
                _source_file desc,
                _record_number desc
        ) as recency_rank
    from candidates
),

latest as (
    select
        {{ all_columns | join(',\n        ') }}
    from ranked
    where recency_rank = 1
)
{%- endmacro %}
