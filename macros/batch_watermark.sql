{#- The batch watermark of incremental models: what an incremental run reads is decided by
    ingestion batch ids, never by business timestamps. Batches commit atomically and their ids are
    global and only grow, so `>` on a batch id never skips a row. -#}

{% macro merged_batch_watermark() -%}
    {#- The newest ingestion batch already merged into the target (0 when it is empty). A literal
        on local Spark (read just before the model runs: dbt compiles a model right before it
        executes it), so the filter `_batch_id > <literal>` reaches the Iceberg scan and skips the
        data files of older batches by their column statistics: the cost of an incremental run
        follows the new batches, not the history. Elsewhere (Glue, Athena, unit tests) a scalar
        subquery with the same value. -#}
    {{ compile_time_scalar(
        'select coalesce(max(current_table._batch_id), 0) from ' ~ this ~ ' as current_table', 'bigint'
    ) }}
{%- endmacro %}


{% macro compile_time_scalar(sql, data_type) -%}
    {#- The single value of `sql` (one row, one column), as a literal of `data_type` when the model
        is compiled against the local Spark warehouse right before it runs, else as the scalar
        subquery `(sql)`. A literal lets Spark push a filter into the Iceberg scan (partition and
        file pruning); a subquery is evaluated at run time, after planning, and prunes nothing. -#}
    {%- if compile_time_values() -%}
        {%- set value = run_query(sql).columns[0].values()[0] -%}
        {%- if value is none -%}
            {{ return('cast(null as ' ~ data_type ~ ')') }}
        {%- endif -%}
        {{ return(typed_literal(value | string, data_type)) }}
    {%- endif -%}
    {{ return('(' ~ sql ~ ')') }}
{%- endmacro %}


{% macro compile_time_values() -%}
    {#- True when a model may read values from the warehouse while it compiles (run_query) and put
        them into its SQL: local Spark, a model being built (not a unit test: its `this` is a
        fixture), and the execute phase. -#}
    {{ return(execute and target.type == 'spark' and model.resource_type == 'model') }}
{%- endmacro %}


{% macro after_watermark(batch_column) -%}
    {#- True for a row of a batch newer than the target's watermark: `batch_column` > watermark. -#}
    {{ batch_column }} > {{ merged_batch_watermark() }}
{%- endmacro %}


{% macro only_new_batches(batch_column) -%}
    {#- In an incremental run: keep rows of ingestion batches newer than the newest batch already
        in the target (a `where` clause; nothing in a full build). -#}
    {%- if is_incremental() %}
        where {{ after_watermark(batch_column) }}
    {%- endif %}
{%- endmacro %}
