{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        on_schema_change='append_new_columns',
        **partitioned(['flight_date']),
    )
}}

{#-
    Per flight date and carrier. Averages ignore unknown delays; the 15-minute share is taken over
    flights whose departure delay is known; unknown_delay_flights counts flights with a missing
    departure or arrival delay (cancelled or diverted). Incremental by flight date: an incremental
    run replaces the partitions of the dates whose flights changed since the table's watermark
    (its newest _batch_id); other dates are not read.
-#}

with

flights as (
    select * from {{ ref('flights') }}
),

{% if is_incremental() %}
    changed_dates as (
        select distinct flights.flight_date
        from flights
        where {{ after_watermark('flights._batch_id') }}
    ),
{% endif %}

flights_in_scope as (
    select flights.* from flights
    {% if is_incremental() %}
        where flights.flight_date in (select changed_dates.flight_date from changed_dates)
    {% endif %}
),

per_day_and_carrier as (
    select
        carrier,
        count(*) as flights,
        cast(round(avg(dep_delay), 2) as decimal(10, 2)) as avg_dep_delay,
        cast(round(avg(arr_delay), 2) as decimal(10, 2)) as avg_arr_delay,
        cast(
            round(cast(sum(case when dep_delay >= 15 then 1 else 0 end) as double) / count(dep_delay), 4)
            as decimal(6, 4)
        ) as share_dep_delayed_15,
        sum(case when dep_delay is null or arr_delay is null then 1 else 0 end) as unknown_delay_flights,
        max(_batch_id) as _batch_id,
        flight_date
    from flights_in_scope
    group by flight_date, carrier
)

select * from per_day_and_carrier
