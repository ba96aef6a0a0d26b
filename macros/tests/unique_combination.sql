{#- Generic test: no two rows share the same values in `columns` (dbt_utils-style, no package
    needed: dbt packages cannot be downloaded on these machines). -#}
{% test unique_combination(model, columns) %}

with

duplicates as (
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
)

select * from duplicates

{% endtest %}
