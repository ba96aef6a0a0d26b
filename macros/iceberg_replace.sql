{#- Iceberg tables are rebuilt in place, never dropped: one table lineage per model, for ever.

    Why: dbt-spark 1.9 rebuilds a `table` model (and an incremental model on --full-refresh) by
    DROP TABLE + CREATE TABLE unless it knows the old relation is Iceberg, and it only knows that
    from `Provider: iceberg` in `show table extended`. Iceberg tables in a Hive-backed session
    catalog report `Provider: hive` (their format is in the table property `table_type=ICEBERG`),
    and the incremental materialization drops before a full refresh whatever the format. A drop
    without PURGE forgets the table's snapshots (no time travel across runs), leaves every old
    metadata and data file behind as an orphan, and the table does not exist while its CTAS runs.
    Upstream: dbt-labs/dbt-adapters issue 1145 (open); the same gate in dbt-databricks issue 1662 /
    PR 1674; dbt-glue added an `iceberg_table_replace` materialization for it.

    How (adapter.dispatch overrides: the root project's `spark__` macros win over dbt-spark's):
    - `spark__list_relations_without_caching` marks Hive-catalog Iceberg tables as Iceberg, so
      dbt-spark's own table materialization takes its in-place path: no drop, then
      `create or replace table ... using iceberg as select` (an atomic Iceberg REPLACE: a new
      snapshot of the same table, schema changes allowed);
    - `spark__drop_relation` does not drop the Iceberg table of a `table` or `incremental` model:
      every such drop in dbt-spark is followed by `create or replace table` of the same relation
      (the full-refresh path), which then replaces it in place. Any other relation (views, seeds,
      temporary relations, tables no model owns) is dropped as before; an Iceberg table dbt drops
      for good is dropped with PURGE, so it leaves no orphan files. -#}

{% macro spark__list_relations_without_caching(relation) %}
    {%- call statement('list_relations_without_caching', fetch_result=True) -%}
        show table extended in {{ relation.schema }} like '*'
    {%- endcall -%}
    {%- set relations = [] -%}
    {%- for row in load_result('list_relations_without_caching').table -%}
        {%- set information = row[3] -%}
        {%- if 'table_type=ICEBERG' in information and 'Provider: iceberg' not in information -%}
            {%- set information = information ~ '\nProvider: iceberg\n' -%}
        {%- endif -%}
        {%- do relations.append([row[0], row[1], row[2], information]) -%}
    {%- endfor -%}
    {{ return(relations) }}
{% endmacro %}


{% macro replaced_in_place(relation) -%}
    {#- True when `relation` is the Iceberg table of a `table` or `incremental` model. -#}
    {%- if not (relation.is_iceberg and relation.type == 'table') -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model'
            and node.config.materialized in ('table', 'incremental')
            and (node.alias or node.name) | lower == relation.identifier | lower
            and node.schema | lower == relation.schema | lower -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}


{% macro spark__drop_relation(relation) -%}
    {%- if replaced_in_place(relation) -%}
        {{ log('kept ' ~ relation ~ ': an Iceberg model table is replaced in place, not dropped') }}
    {%- else -%}
        {%- call statement('drop_relation', auto_begin=False) -%}
            drop {{ relation.type }} if exists {{ relation }}{{ ' purge' if relation.is_iceberg and relation.type == 'table' }}
        {%- endcall -%}
    {%- endif -%}
{%- endmacro %}
