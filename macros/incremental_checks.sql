{% macro get_where_subquery(relation) -%}
    {#- dbt's own macro (the relation a data test reads, filtered by its `where` config), plus the
        lakehouse's incremental checks: a test whose config has `meta: {incremental_check: ...}`
        reads fewer rows when `checked_batches_after()` is set, i.e. in a plain `lakehouse run` that
        builds only new batches (`lakehouse.selection`): rows of older batches passed the same test in
        an earlier successful build and no build has changed them since (`lakehouse.selection` sets
        the value only then). Two forms, both for tests of error severity only (a warning's count
        would drop the rows it flagged before), never for a relationship (its parent may change under
        old rows), on models that write every row they change with the new `_batch_id`:
        - `incremental_check: true`: only the rows of batches after it. For row-local tests
          (not_null), and unique over keys that include the partition a build replaces whole.
        - `incremental_check: {rows_sharing: [columns], partition: column}`: every row that shares
          the values of `rows_sharing` (compared null-safely) and of `partition` (compared with `=`:
          it must be derived from those columns and never null) with a row of those batches. For
          unique over `rows_sharing` on a model that only appends: a duplicate that appeared since
          the last build has a new row among its rows. `partition` lets Spark read only the
          partitions of the new rows (dynamic partition pruning of the semi join).
        Full builds, `--select`, `--full-refresh` and `--audit` check every row. -#}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set after = checked_batches_after() -%}
    {%- set check = (config.get('meta') or {}).get('incremental_check') -%}
    {%- if after is not none and check is mapping -%}
        {%- do conditions.append(rows_sharing_new_batches(relation, after, check)) -%}
    {%- elif after is not none and check -%}
        {%- do conditions.append('_batch_id > ' ~ after) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' as checked_rows where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
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


{% macro rows_sharing_new_batches(relation, after, check) -%}
    {#- The condition of `incremental_check: {rows_sharing: [...], partition: ...}` (above) on the
        rows of `relation` aliased `checked_rows`. -#}
    {%- set sharing = check.get('rows_sharing') or [] -%}
    {%- if sharing is string or not sharing or check.get('partition') is none -%}
        {%- do exceptions.raise_compiler_error(
            'incremental_check needs rows_sharing (a list of columns) and partition (a column), got ' ~ check
        ) -%}
    {%- endif -%}
    {%- set matches = ['new_rows.' ~ check['partition'] ~ ' = checked_rows.' ~ check['partition']] -%}
    {%- for column in sharing -%}
        {%- do matches.append('new_rows.' ~ column ~ ' is not distinct from checked_rows.' ~ column) -%}
    {%- endfor -%}
    {%- do return(
        'exists (select 1 from ' ~ relation ~ ' as new_rows where new_rows._batch_id > ' ~ after
        ~ ' and ' ~ matches | join(' and ') ~ ')'
    ) -%}
{%- endmacro %}
