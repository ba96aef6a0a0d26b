{#- Plain schema names (bronze, staging, silver, gold, reference) instead of dbt's
    <target_schema>_<custom_schema>: the layer IS the schema, on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
