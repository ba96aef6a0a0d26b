{% macro symmetric_difference(expected, actual) -%}
    {#- Rows of `expected` missing from `actual` and rows of `actual` not in `expected`, counting
        duplicates (except all): the body of every "incremental equals full rebuild" test. -#}
    {%- set sides = [
        ('missing_from_incremental', expected, actual),
        ('extra_in_incremental', actual, expected),
    ] -%}
    {%- for difference, rows, without in sides %}
    select
        '{{ difference }}' as difference,
        *
    from (
        select * from {{ rows }}
        except all
        select * from {{ without }}
    ) as differing
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
