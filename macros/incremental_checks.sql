{% macro get_where_subquery(relation) -%}
    {#- dbt's own macro (the relation a data test reads, filtered by its `where` config), plus the
        lakehouse's incremental checks: a test whose config has `meta: {incremental_check: true}`
        reads only the rows of batches after `checked_batches_after()` when that is set, i.e. in a
        plain `lakehouse run` that builds only new batches (`lakehouse.selection`): rows of older
        batches passed the same test in an earlier successful build and no build has changed them
        since (`lakehouse.selection` sets the value only then). Only for tests of error severity
        that are row-local (not_null) or unique over keys that include the partition a build
        replaces whole, on models that write every row they change with the new `_batch_id`: not for
        a warning (its count would drop the rows it flagged before) nor a relationship (its parent
        may change under old rows). Full builds, `--select`, `--full-refresh` and `--audit` check
        every row. -#}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set after = checked_batches_after() -%}
    {%- if after is not none and (config.get('meta') or {}).get('incremental_check') -%}
        {%- do conditions.append('_batch_id > ' ~ after) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{% macro checked_batches_after() -%}
    {#- The batch after which an incremental build's checks read rows: LAKEHOUSE_CHECK_BATCHES_AFTER,
        which `lakehouse run` sets for that build only; none otherwise (e.g. a bare `dbt build`, the
        AWS targets). Read only while executing, so the value is never part of dbt's parse. -#}
    {%- if not execute -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set value = env_var('LAKEHOUSE_CHECK_BATCHES_AFTER', '') | trim -%}
    {%- do return(value | int if value else none) -%}
{%- endmacro %}
