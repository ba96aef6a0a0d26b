{% macro spark__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) %}
    {#- dbt-spark's merge, plus the bounds of the new rows on the unique-key columns a model names in
        `merge_bounded_by`. Local Spark only: dbt-glue and dbt-athena merge with macros of their own.

        Why: the target of a merge is read whole to find the rows it matches, so a daily merge costs
        more as the table grows. A target row matches only a new row with the same key, so its value of
        each key column lies between the new rows' least and greatest values: adding that range to the
        ON clause changes nothing the merge does, and lets Iceberg skip the data files whose column
        statistics lie outside it (e.g. `user_event_lag` merges only recent events). The bounds come
        from one aggregate over the new rows (so they are known only while the model runs, which
        dbt-spark's static `incremental_predicates` cannot express); with no new rows the merge runs
        unchanged. It pays off where the files are laid out by the column: a daily run writes files
        of its own days (measured in BENCHMARKS.md). -#}
    {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
    {%- set bounded_by = config.get('merge_bounded_by') or [] -%}
    {%- set bounded_by = [bounded_by] if bounded_by is string else bounded_by -%}
    {%- set keys = [unique_key] if unique_key is string else (unique_key or []) -%}
    {%- set key_names = keys | map('lower') | list -%}
    {%- for column in bounded_by if column | lower not in key_names -%}
        {{ exceptions.raise_compiler_error(
            "merge_bounded_by: " ~ column ~ " is not a column of the unique_key " ~ keys
            ~ ": only a key column bounds the target rows a merge can match"
        ) }}
    {%- endfor -%}
    {%- if bounded_by and execute -%}
        {%- set bounds = least_and_greatest(source, bounded_by, 'merge_bounded_by') -%}
        {%- for column in bounded_by -%}
            {%- set low, high = bounds[loop.index0] -%}
            {%- if low is not none -%}
                {%- do predicates.append('DBT_INTERNAL_DEST.' ~ column ~ ' between ' ~ low ~ ' and ' ~ high) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(dbt.spark__get_merge_sql(target, source, unique_key, dest_columns, predicates)) }}
{% endmacro %}


{% macro least_and_greatest(relation, columns, purpose, where=none) -%}
    {#- The least and greatest values of each of `columns` over the rows of `relation` (those matching
        `where`), as typed SQL literals: a list of [least, greatest] per column, [none, none] when no
        row matches. One aggregate, run while the calling node executes; `purpose` names the caller
        in errors. Only types whose text reads back exactly are allowed. -#}
    {%- set aggregates = [] -%}
    {%- for column in columns -%}
        {#- prefixed, so that agate reads text and never a number or a date -#}
        {%- do aggregates.append("concat('=', cast(min(" ~ column ~ ') as string))') -%}
        {%- do aggregates.append("concat('=', cast(max(" ~ column ~ ') as string))') -%}
        {%- do aggregates.append('typeof(min(' ~ column ~ '))') -%}
    {%- endfor -%}
    {%- set row = run_query(
        'select ' ~ aggregates | join(', ') ~ ' from ' ~ relation ~ (' where ' ~ where if where else '')
    ).rows[0] -%}
    {%- set bounds = [] -%}
    {%- for column in columns -%}
        {%- set at = 3 * loop.index0 -%}
        {%- set low, high, type = row[at], row[at + 1], row[at + 2] -%}
        {%- if type not in ['tinyint', 'smallint', 'int', 'bigint', 'date', 'timestamp', 'timestamp_ntz', 'string']
            and not type.startswith('decimal(') -%}
            {{ exceptions.raise_compiler_error(
                purpose ~ ": " ~ column ~ " is a " ~ type ~ " column; only an integer, decimal,"
                ~ " date, timestamp or string column reads back exactly from its text"
            ) }}
        {%- endif -%}
        {%- if low is none -%}
            {%- do bounds.append([none, none]) -%}
        {%- else -%}
            {%- do bounds.append([typed_literal(low[1:], type), typed_literal(high[1:], type)]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(bounds) -%}
{%- endmacro %}


{% macro typed_literal(text, type) -%}
    cast('{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
{%- endmacro %}
