{% macro change_extract_lineage() -%}
    {#- The columns every datamart staging model ends with, after its business columns: the soft
        delete (false when the extract has no `is_deleted` column) and the lineage of the row. -#}
    coalesce(is_deleted, false) as is_deleted,
    _source_file,
    _record_number,
    _batch_id,
    _ingested_at
{%- endmacro %}
