{% macro get_where_subquery(relation) -%}
    {#- dbt's own macro (the relation a data test reads, filtered by its `where` config), plus the
        lakehouse's incremental checks: a test whose config has `meta: {incremental_check: ...}`
        reads fewer rows when `checked_batches_after()` is set, i.e. in a plain `lakehouse run` that
        builds only new batches (`lakehouse.selection`): rows of older batches passed the same test in
        an earlier successful build and no build has changed them since (`lakehouse.selection` sets
        the value only then). Two forms, both for tests of error severity only (a warning's count
        would drop the rows it flagged before), never for a relationship (its parent may change under
        old rows):
        - `incremental_check: true`: only the rows of batches after it, on a model that writes every
          row it changes with the new `_batch_id`. For row-local tests (not_null), and unique over
          keys that include the partition a build replaces whole.
        - `incremental_check: {rows_sharing: [columns], partition: column, from: column}`: every
          row that shares the values of `rows_sharing` (compared null-safely) with a row of those
          batches and, when given, its `partition` (compared with `=`: derived from those columns
          and never null; Spark then reads only the new rows' partitions, by dynamic partition
          pruning of the semi join, also when it is no broadcast: `PLANNING` in
          ingestion/spark.py), and whose `from` is at least that row's; with `from` alone,
          every row whose `from` is at least the least of those rows'. For unique over the key, on
          a model whose build writes no other rows:
          - one that only appends, with the key as `rows_sharing` (silver.user_events): a
            duplicate that appeared since the last build has a new row among its rows;
          - one that rewrites a group's rows from its earliest new row on, keeping their old
            `_batch_id`, its new rows carrying theirs (gold.user_event_lag: `rows_sharing:
            [user_id], from: event_time`): every row it wrote is read, and any row with the same
            key as one of them;
          - one that replaces its partitions from the earliest new row's on (gold.user_activity_daily:
            `from: activity_date`, its partition): every partition it replaced is read.
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
    {#- The condition of `incremental_check: {rows_sharing: [...], partition: ..., from: ...}`
        (above) on the rows of `relation` aliased `checked_rows`. `from` is also bounded by the least
        value of the new rows, as a literal (one aggregate while the test runs), so that Iceberg skips
        the partitions and files below it. -#}
    {%- set sharing = check.get('rows_sharing') or [] -%}
    {%- set unknown = check.keys() | reject('in', ['rows_sharing', 'partition', 'from']) | list -%}
    {%- set single = [check.get('partition'), check.get('from')] | reject('none') | list -%}
    {%- if sharing is string or unknown or not (sharing or check.get('from'))
        or (check.get('partition') and not sharing) or single | reject('string') | list -%}
        {%- do exceptions.raise_compiler_error(
            'incremental_check takes rows_sharing (a list of columns), partition and from (a column each);'
            ~ ' it needs rows_sharing or from, and partition goes with rows_sharing; got ' ~ check
        ) -%}
    {%- endif -%}
    {%- set new_rows = '_batch_id > ' ~ after -%}
    {%- set conditions = [] -%}
    {%- if check.get('from') -%}
        {%- set least = least_and_greatest(relation, [check['from']], 'incremental_check', new_rows)[0][0] -%}
        {%- if least is none -%}
            {%- do return('1 = 0') -%}  {#- no new rows: the build wrote none -#}
        {%- endif -%}
        {%- do conditions.append('checked_rows.' ~ check['from'] ~ ' >= ' ~ least) -%}
    {%- endif -%}
    {%- if sharing -%}
        {%- set matches = [] -%}
        {%- if check.get('partition') -%}
            {%- do matches.append('new_rows.' ~ check['partition'] ~ ' = checked_rows.' ~ check['partition']) -%}
        {%- endif -%}
        {%- for column in sharing -%}
            {%- do matches.append('new_rows.' ~ column ~ ' is not distinct from checked_rows.' ~ column) -%}
        {%- endfor -%}
        {%- if check.get('from') -%}
            {%- do matches.append('new_rows.' ~ check['from'] ~ ' <= checked_rows.' ~ check['from']) -%}
        {%- endif -%}
        {%- do conditions.append(
            'exists (select 1 from ' ~ relation ~ ' as new_rows where new_rows.' ~ new_rows
            ~ ' and ' ~ matches | join(' and ') ~ ')'
        ) -%}
    {%- endif -%}
    {%- do return(conditions | join(' and ')) -%}
{%- endmacro %}
