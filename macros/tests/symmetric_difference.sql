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
