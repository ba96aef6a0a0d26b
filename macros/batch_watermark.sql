{#- The batch watermark of incremental models: what an incremental run reads is decided by
    ingestion batch ids, never by business timestamps. Batches commit atomically and their ids are
    global and only grow, so `>` on a batch id never skips a row. -#}

{% macro merged_batch_watermark() -%}
    {#- The newest ingestion batch already merged into the target (0 when it is empty), as a scalar
        subquery: the watermark of every incremental model. -#}
    (select coalesce(max(current_table._batch_id), 0) from {{ this }} as current_table)
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
