{#- One SQL for three engines: local Spark (dbt-spark), Glue (dbt-glue, Spark 3.5) and Athena
    (dbt-athena, Trino). Models use plain SQL both dialects run the same way (`not exists`,
    `is not distinct from`, explicit casts before a division); where the two cannot share a
    spelling, the model calls one of these macros and adapter.dispatch picks the engine's form
    (`default__` is Spark's, for dbt-spark and dbt-glue alike; `athena__` is Trino's).
    tests/aws/portability.py lists the Spark-only constructs the compiled Athena SQL must not
    contain. -#}

{% macro epoch_seconds(timestamp) -%}
    {#- Seconds since 1970-01-01 00:00:00 UTC, with the fraction, as a double. -#}
    {{ return(adapter.dispatch('epoch_seconds')(timestamp)) }}
{%- endmacro %}

{% macro default__epoch_seconds(timestamp) -%}
    cast({{ timestamp }} as double)
{%- endmacro %}

{% macro athena__epoch_seconds(timestamp) -%}
    to_unixtime({{ timestamp }})
{%- endmacro %}


{% macro partitioned(columns) -%}
    {#- Model config for partitioning by `columns` on every adapter: dbt-spark and dbt-glue read
        `partition_by`, dbt-athena reads `partitioned_by`. Use as
        config(**partitioned(['event_date']), unique_key=...). -#}
    {{ return({'partition_by': columns, 'partitioned_by': columns}) }}
{%- endmacro %}
