{% macro delete_tombstoned_rows() -%}
    {#- Post-hook of incremental gold tables built from silver tables with tombstones: delete the
        target's rows whose key (the model's `unique_key`) is soft-deleted in silver, in the model
        named by the model's `meta: {tombstones_from: <silver model>}`. The merge only inserts and
        updates the current rows; this removes the ones that are current no more. -#}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set key = config.get('unique_key') -%}
    {%- set silver = config.get('meta', {}).get('tombstones_from') -%}
    {%- if key is none or silver is none -%}
        {{ exceptions.raise_compiler_error(
            "delete_tombstoned_rows needs the model's unique_key and meta.tombstones_from") }}
    {%- endif -%}
    delete from {{ this }} where {{ key }} in (
        select tombstoned.{{ key }} from {{ ref(silver) }} as tombstoned
        where tombstoned.is_deleted
    )
{%- endmacro %}
