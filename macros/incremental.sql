{#- Incremental helpers shared by silver and gold models. -#}

{% macro only_new_batches(batch_column) -%}
    {#- In an incremental run: keep rows of ingestion batches newer than the newest batch already
        in the target. Batches commit atomically and their ids only grow, so nothing is skipped. -#}
    {%- if is_incremental() %}
        where {{ batch_column }} > (
            select coalesce(max(current_table._batch_id), 0) from {{ this }} as current_table
        )
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
