{% macro latest_version_per_key(
    relation,
    key,
    changed_at=none,
    nulls='last',
    tombstones=none,
    current_competes=false,
    exclude=[]
) -%}
    {#- "Latest version per key", the one way to compute it: a select with one row per `key`, its
        latest version among the rows of `relation` (a ref() of a staging model: every delivered
        version), with the relation's columns except `exclude`. The caller names it in its own CTE:

            latest as (
                {{ latest_version_per_key(ref('stg_datamart__accounts'), 'account_id',
                                          changed_at='updated_at', ...) }}
            )

        The latest version is
        - by `changed_at`, the version's change timestamp (or business date), latest first, nulls
          ordered `nulls` ('last' or 'first'); with none, arrival alone decides (sources without a
          timestamp, where a later delivery is the newer version by definition);
        - then by arrival: the later ingestion batch (`_batch_id`), then (same batch) the later file
          name (`_source_file`), then the later record in the file (`_record_number`).

        In an incremental run only the batches after the target's watermark are read
        (only_new_batches), and:
        - `current_competes`: the current row (in `this`) of every key they touch competes with
          them, so a late version with an older `changed_at` never overwrites a newer one (needed
          whenever `changed_at` is given; with arrival alone the new versions always win). It
          changes nothing outside incremental runs (full builds, tests).
        - `tombstones`: the soft-delete flag column (e.g. 'is_deleted'), or none. A flagged version
          is kept as the key's current version, a tombstone: it competes like any other, so an
          older late version never resurrects the key and a newer one brings it back. Nothing is
          dropped here; readers filter tombstones out. -#}
    {%- set columns = relation_columns(relation, exclude) -%}
    {%- if nulls not in ('last', 'first') -%}
        {{- exceptions.raise_compiler_error("latest_version_per_key: nulls must be 'last' or 'first', not " ~ nulls) -}}
    {%- endif -%}
    {%- if execute and tombstones is not none and tombstones not in columns -%}
        {{- exceptions.raise_compiler_error("latest_version_per_key: no tombstones column " ~ tombstones) -}}
    {%- endif -%}
    {%- set order_by = ([changed_at ~ ' desc nulls ' ~ nulls] if changed_at is not none else [])
        + ['_batch_id desc', '_source_file desc', '_record_number desc'] -%}
    {%- set candidates -%}
        select
            new_versions.{{ columns | join(',\n            new_versions.') }}
        from {{ relation }} as new_versions
        {%- if is_incremental() %}
        where {{ after_watermark('new_versions._batch_id') }}
        {%- endif %}
        {%- if current_competes and is_incremental() %}
        union all
        select
            current_table.{{ columns | join(',\n            current_table.') }}
        from {{ this }} as current_table
        where current_table.{{ key }} in (
            select touched.{{ key }} from {{ relation }} as touched
            where {{ after_watermark('touched._batch_id') }}
        )
        {%- endif %}
    {%- endset -%}
    select
        ranked.{{ columns | join(',\n        ranked.') }}
    from (
        select
            candidates.*,
            row_number() over (
                partition by candidates.{{ key }}
                order by candidates.{{ order_by | join(', candidates.') }}
            ) as version_rank
        from ({{ candidates }}) as candidates
    ) as ranked
    where ranked.version_rank = 1
{%- endmacro %}
