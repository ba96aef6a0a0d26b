{% macro days_between(start_date, end_date) -%}
    {#- Whole days from start_date to end_date, through dbt's cross-database datediff (Spark's
        datediff(end, start), Trino's date_diff('day', start, end)). -#}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}
