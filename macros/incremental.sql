{#- Incremental helpers shared by silver and gold models. -#}

{% macro merged_batch_watermark() -%}
    {#- The newest ingestion batch already merged into the target (0 when it is empty), as a scalar
        subquery: the watermark of every incremental model. -#}
    (select coalesce(max(current_table._batch_id), 0) from {{ this }} as current_table)
{%- endmacro %}


{% macro only_new_batches(batch_column) -%}
    {#- In an incremental run: keep rows of ingestion batches newer than the newest batch already
        in the target. Batches commit atomically and their ids only grow, so nothing is skipped. -#}
    {%- if is_incremental() %}
        where {{ batch_column }} > {{ merged_batch_watermark() }}
    {%- endif %}
{%- endmacro %}


{% macro symmetric_difference(expected, actual) -%}
    {#- Rows of `expected` missing from `actual` and rows of `actual` not in `expected`, counting
        duplicates (except all): the body of every "incremental equals full rebuild" test. -#}
    select
        'missing_from_incremental' as difference,
        *
    from (
        select * from {{ expected }}
        except all
        select * from {{ actual }}
    ) as differing
    union all
    select
        'extra_in_incremental' as difference,
        *
    from (
        select * from {{ actual }}
        except all
        select * from {{ expected }}
    ) as differing
{%- endmacro %}


{% macro latest_arrival(relation, key, columns) -%}
    {#- One row per `key` from `relation`: the one that arrived last (highest batch, then file
        name, then position in the file). For sources without a business timestamp, where a later
        delivery is by definition the newer version. -#}
    select
        ranked.{{ columns | join(',\n        ranked.') }},
        ranked._source_file,
        ranked._record_number,
        ranked._batch_id
    from (
        select
            arrived.*,
            row_number() over (
                partition by arrived.{{ key }}
                order by arrived._batch_id desc, arrived._source_file desc, arrived._record_number desc
            ) as arrival_rank
        from {{ relation }} as arrived
    ) as ranked
    where ranked.arrival_rank = 1
{%- endmacro %}
