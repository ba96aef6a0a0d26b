{% macro relation_columns(relation, exclude=[]) -%}
    {#- The column names of `relation` (a ref() of a model), lower case and in the relation's order,
        without those in `exclude`: a model derives its column list from its input instead of
        writing the list again, so adding a column upstream is one edit. Read from the database
        when the model runs (its inputs are built first); at parse time the list is empty.

        In a dbt unit test ref() names the input's fixture CTE (`__dbt__cte__<name>`): the columns
        are read from the real relation the fixture stands in for, as dbt itself does to type the
        fixture's rows (so unit tests run after a build, as `make dbt-test` does). Before the input
        exists at all (`dbt compile` on an empty target) the columns its YAML documents are used. -#}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set found = namespace(relation=relation) -%}
    {%- if relation.type == 'cte' -%}
        {#- A unit test's fixture: its context has no graph, so the real relation is looked up by
            name in the schemas of the layers models read from. -#}
        {%- set found.relation = none -%}
        {%- set name = relation.identifier | replace('__dbt__cte__', '', 1) -%}
        {%- for layer in ['staging', 'intermediate', 'silver'] if found.relation is none -%}
            {%- set found.relation = adapter.get_relation(target.database, generate_schema_name(layer, none), name) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set excluded = exclude | map('lower') | list -%}
    {%- set names = [] -%}
    {%- if found.relation is not none -%}
        {%- for column in adapter.get_columns_in_relation(found.relation) -%}
            {%- do names.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if names | length == 0 -%}
        {%- set names = documented_columns(relation) -%}
    {%- endif -%}
    {%- set kept = names | reject('in', excluded) | list -%}
    {%- if kept | length == 0 -%}
        {{- exceptions.raise_compiler_error("relation_columns: no columns known for " ~ relation) -}}
    {%- endif -%}
    {{- return(kept) -}}
{%- endmacro %}


{% macro documented_columns(relation) -%}
    {#- The columns the YAML of the model behind `relation` documents, lower case. -#}
    {%- set names = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- set same_relation = node.schema == relation.schema and (node.alias or node.name) == relation.identifier -%}
        {%- if node.resource_type == 'model' and same_relation -%}
            {%- for name in node.columns -%}
                {%- do names.append(name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(names) -}}
{%- endmacro %}
